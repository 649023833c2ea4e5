using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Iwae.Datasets;

/// <summary>
/// Reads numpy's .npy files and .npz archives (a zip of .npy members, stored or deflated, as
/// <c>np.savez</c> and <c>np.savez_compressed</c> write them). An .npy file is the magic
/// <c>\x93NUMPY</c>, a format version (1.0, 2.0 or 3.0), a little-endian header length (2 bytes in 1.0,
/// 4 bytes after), a Python dict literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>,
/// then the raw elements. Every problem with the input, including a missing file, throws
/// <see cref="DataFormatException"/> with a one-line message naming the file (and the .npz member).
/// </summary>
/// <remarks>
/// <para>Element types: float16/32/64, int8/16/32/64, uint8/16/32/64 (little-endian) and bool. Big-endian
/// and structured types are refused. Shapes: (N, D) is N x D; (N,) is N x 1; (N, H, W) is N x (H*W),
/// each H x W item flattened in C order; <see cref="DataArray.Rank"/> keeps the file's number of dimensions, so a
/// caller can tell (N,) from (N, 1) (labels are 1-D; <see cref="DataSource"/> refuses 1-D examples). Fortran order is
/// accepted for 1-D and 2-D arrays.</para>
/// <para>A corrupt header must not make us allocate gigabytes: the header is capped at
/// <see cref="MaxHeaderBytes"/>, the element count at <see cref="Array.MaxLength"/>, a plain file's length is
/// checked against the header before the array is allocated, and an .npz member's array grows only as
/// decompressed bytes actually arrive.</para>
/// </remarks>
public static class NpyReader
{
    /// <summary>Longest header accepted (numpy itself refuses more than 10,000 bytes by default).</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads one .npy file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The array, named after the file (e.g. "x.npy").</returns>
    /// <exception cref="DataFormatException">The file is missing, unreadable or not a well-formed .npy file of a supported type and shape.</exception>
    public static DataArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = DataFile.OpenRead(path);
        try
        {
            return ReadArray(new Source(path, ""), Path.GetFileName(path), file, file.Length);
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"read error: {ex.Message}", ex);
        }
    }

    /// <summary>Reads every member of an .npz archive, in archive order.</summary>
    /// <param name="path">The .npz file.</param>
    /// <returns>One array per member, named after the member without ".npy" (the keyword given to <c>np.savez</c>).</returns>
    /// <exception cref="DataFormatException">The file is missing, not a zip archive, corrupt, or a member is not a well-formed .npy of a supported type and shape.</exception>
    public static IReadOnlyList<DataArray> ReadNpz(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = DataFile.OpenRead(path);
        var arrays = new List<DataArray>();
        string member = "";
        try
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a folder entry
                member = entry.FullName;
                string name = member.EndsWith(".npy", StringComparison.Ordinal) ? member[..^4] : member;
                using Stream stream = entry.Open();
                arrays.Add(ReadArray(new Source(path, $"member '{member}': "), name, stream, knownLength: null));
            }
        }
        catch (InvalidDataException ex)
        {
            throw DataFormatException.At(path, $"{(member == "" ? "" : $"member '{member}': ")}corrupt zip archive: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"{(member == "" ? "" : $"member '{member}': ")}read error: {ex.Message}", ex);
        }
        if (arrays.Count == 0) throw DataFormatException.At(path, "the archive holds no arrays");
        return arrays;
    }

    // The file, and "member 'x.npy': " inside an .npz, for messages.
    private readonly record struct Source(string Path, string Where)
    {
        public DataFormatException Error(string problem) => DataFormatException.At(Path, Where + problem);
    }

    // knownLength: the bytes the stream holds from its current position (a plain file), or null (a zip member).
    private static DataArray ReadArray(Source src, string name, Stream stream, long? knownLength)
    {
        Span<byte> prefix = stackalloc byte[12];
        int got = DataFile.ReadFully(stream, prefix[..8]);
        if (got == 0) throw src.Error("empty file: expected an .npy header");
        int magicGot = Math.Min(got, Magic.Length);
        if (!prefix[..magicGot].SequenceEqual(Magic[..magicGot]))
            throw src.Error("not an .npy file: it does not start with the magic bytes \\x93NUMPY");
        if (got < 8) throw src.Error($"truncated header: {got} bytes");
        byte major = prefix[6], minor = prefix[7];
        if (major is < 1 or > 3 || minor != 0)
            throw src.Error($"unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are supported)");

        int lengthBytes = major == 1 ? 2 : 4;
        if (DataFile.ReadFully(stream, prefix.Slice(8, lengthBytes)) < lengthBytes)
            throw src.Error($"truncated header: the {lengthBytes}-byte header length is missing");
        long headerLength = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..])
            : BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
        int prefixLength = 8 + lengthBytes;
        if (headerLength > MaxHeaderBytes)
            throw src.Error($"header length {headerLength} is more than the limit of {MaxHeaderBytes} bytes (corrupt header?)");
        if (knownLength is long len && prefixLength + headerLength > len)
            throw src.Error($"truncated header: it declares {headerLength} bytes, the file holds {len - prefixLength} after the {prefixLength}-byte prefix");

        var headerBytes = new byte[headerLength];
        if (DataFile.ReadFully(stream, headerBytes) < headerBytes.Length)
            throw src.Error($"truncated header: it declares {headerLength} bytes");
        // Versions 1.0 and 2.0 are latin-1; 3.0 allows utf-8 (field names of structured types, which we refuse anyway).
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var (type, fortran, shape) = ParseHeader(src, header);

        var (rows, cols) = Shape2D(src, shape, fortran);
        long count = (long)rows * cols;
        if (count > Array.MaxLength)
            throw src.Error($"shape {ShapeText(shape)} holds {count} elements, more than the largest possible array ({Array.MaxLength})");
        int size = RawValues.SizeOf(type);
        long dataBytes = count * size;
        long headerTotal = prefixLength + headerLength;
        if (knownLength is long fileLength)
        {
            // The length is known, so a lying header is caught before anything is allocated.
            long remaining = fileLength - headerTotal;
            if (remaining < dataBytes)
                throw src.Error($"truncated data: shape {ShapeText(shape)} of {RawValues.NumpyName(type)} needs {dataBytes} bytes after the {headerTotal}-byte header, the file holds {remaining}");
            if (remaining > dataBytes)
                throw src.Error($"trailing garbage: {remaining - dataBytes} bytes after the {dataBytes} bytes of data the header declares");
        }

        if (!RawValues.TryRead(stream, count, type, sizeChecked: knownLength is not null, out float[] values, out long read))
            throw src.Error($"truncated data: shape {ShapeText(shape)} of {RawValues.NumpyName(type)} needs {dataBytes} bytes after the {headerTotal}-byte header, got {read}");
        if (knownLength is null && DataFile.HasMore(stream))
            throw src.Error($"trailing garbage after the {dataBytes} bytes of data the header declares");

        if (fortran) values = RawValues.ColumnToRowMajor(values, rows, cols);
        return new DataArray(name, rows, cols, values, RawValues.NumpyName(type), Rank: shape.Length);
    }

    // (N,) -> N x 1; (N, D) -> N x D; (N, H, W) -> N x (H*W). Each result dimension fits an int.
    private static (int Rows, int Cols) Shape2D(Source src, long[] shape, bool fortran)
    {
        string text = ShapeText(shape);
        if (shape.Length == 0) throw src.Error("shape () is a scalar: only 1-D, 2-D and 3-D arrays are supported");
        if (shape.Length > 3) throw src.Error($"shape {text} has {shape.Length} dimensions: only 1-D, 2-D and 3-D arrays are supported");
        if (shape.Length == 3 && fortran)
            throw src.Error($"shape {text} in Fortran order: 3-D arrays must be in C order (save np.ascontiguousarray(a))");
        foreach (long d in shape)
            if (d > int.MaxValue) throw src.Error($"shape {text}: dimension {d} is more than the limit of {int.MaxValue} (corrupt header?)");
        long cols = shape.Length switch { 1 => 1, 2 => shape[1], _ => shape[1] * shape[2] };
        if (cols > int.MaxValue) throw src.Error($"shape {text}: {cols} values per item is more than the limit of {int.MaxValue}");
        return ((int)shape[0], (int)cols);
    }

    // As Python prints a tuple: (3,) and (3, 4).
    private static string ShapeText(long[] shape) => $"({string.Join(", ", shape)}{(shape.Length == 1 ? "," : "")})";

    private static (RawType Type, bool Fortran, long[] Shape) ParseHeader(Source src, string header)
    {
        Dictionary<string, object> dict;
        try
        {
            dict = new HeaderParser(header).ParseDict();
        }
        catch (FormatException ex)
        {
            throw src.Error($"malformed header {Quote(header)}: {ex.Message}");
        }
        foreach (string key in new[] { "descr", "fortran_order", "shape" })
            if (!dict.ContainsKey(key)) throw src.Error($"header {Quote(header)} has no '{key}'");
        if (dict.Count != 3)
            throw src.Error($"header {Quote(header)} has keys other than 'descr', 'fortran_order' and 'shape'");
        if (dict["descr"] is not string descr)
            throw src.Error(dict["descr"] is List<object>
                ? "structured dtypes (a list of fields in 'descr') are not supported"
                : $"'descr' in header {Quote(header)} is not a string");
        if (dict["fortran_order"] is not bool fortran)
            throw src.Error($"'fortran_order' in header {Quote(header)} is not True or False");
        if (dict["shape"] is not List<object> dims || dims.Any(d => d is not long))
            throw src.Error($"'shape' in header {Quote(header)} is not a tuple of integers");
        return (ParseDescr(src, descr), fortran, dims.Select(d => (long)d).ToArray());
    }

    private static RawType ParseDescr(Source src, string descr)
    {
        if (descr.Length < 2) throw src.Error($"unsupported dtype '{descr}'");
        char order = descr[0];
        RawType? type = descr[1..] switch
        {
            "b1" or "?" => RawType.Bool,
            "i1" => RawType.Int8,
            "u1" => RawType.UInt8,
            "i2" => RawType.Int16,
            "u2" => RawType.UInt16,
            "i4" => RawType.Int32,
            "u4" => RawType.UInt32,
            "i8" => RawType.Int64,
            "u8" => RawType.UInt64,
            "f2" => RawType.Float16,
            "f4" => RawType.Float32,
            "f8" => RawType.Float64,
            _ => null,
        };
        if (order is not ('<' or '>' or '|' or '=') || type is null)
            throw src.Error($"unsupported dtype '{descr}': supported are bool, int8-64, uint8-64 and float16-64 ('<f4', '<f8', '|u1', '|b1', '<i8', ...)");
        int size = RawValues.SizeOf(type.Value);
        if (size > 1 && order == '>')
            throw src.Error($"big-endian dtype '{descr}' is not supported: save a little-endian copy, e.g. a.astype('<{descr[1..]}')");
        if (size > 1 && order != '<')
            throw src.Error($"dtype '{descr}' does not state a byte order: expected '<{descr[1..]}'");
        return type.Value;
    }

    private static string Quote(string header)
    {
        string trimmed = header.Trim();
        return "\"" + (trimmed.Length <= 120 ? trimmed : trimmed[..120] + "...") + "\"";
    }

    /// <summary>
    /// The subset of Python literal syntax numpy writes into a header: a dict of quoted-string keys to
    /// quoted strings, True/False, tuples of integers (an old "3L" suffix allowed), and lists (structured
    /// dtypes, recognised only to refuse them). Throws FormatException.
    /// </summary>
    private sealed class HeaderParser(string text)
    {
        private const int MaxDepth = 8;
        private int _pos;

        public Dictionary<string, object> ParseDict()
        {
            var dict = new Dictionary<string, object>(StringComparer.Ordinal);
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; break; }
                if (ParseValue(0) is not string key) throw new FormatException($"a key at offset {_pos} is not a string");
                Expect(':');
                object value = ParseValue(0);
                if (!dict.TryAdd(key, value)) throw new FormatException($"duplicate key '{key}'");
                SkipSpace();
                if (Peek() == ',') _pos++;
                else if (Peek() != '}') throw new FormatException($"expected ',' or '}}' at offset {_pos}");
            }
            SkipSpace();
            if (_pos != text.Length) throw new FormatException($"unexpected text after the dict at offset {_pos}");
            return dict;
        }

        private object ParseValue(int depth)
        {
            if (depth > MaxDepth) throw new FormatException("nested too deeply");
            SkipSpace();
            char c = Peek();
            if (c is '\'' or '"')
            {
                int end = text.IndexOf(c, _pos + 1);
                if (end < 0) throw new FormatException($"unterminated string at offset {_pos}");
                string s = text[(_pos + 1)..end];
                if (s.Contains('\\')) throw new FormatException("escapes in strings are not supported");
                _pos = end + 1;
                return s;
            }
            if (c is '(' or '[')
            {
                char close = c == '(' ? ')' : ']';
                _pos++;
                var items = new List<object>();
                while (true)
                {
                    SkipSpace();
                    if (Peek() == close) { _pos++; return items; }
                    items.Add(ParseValue(depth + 1));
                    SkipSpace();
                    if (Peek() == ',') _pos++;
                    else if (Peek() != close) throw new FormatException($"expected ',' or '{close}' at offset {_pos}");
                }
            }
            if (Word("True")) return true;
            if (Word("False")) return false;
            if (char.IsAsciiDigit(c))
            {
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                if (!long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                    throw new FormatException($"integer {text[start.._pos]} is too large");
                if (_pos < text.Length && text[_pos] == 'L') _pos++; // Python 2 long, as old numpy wrote it
                return n;
            }
            throw new FormatException($"unexpected {(c == '\0' ? "end of header" : $"'{c}'")} at offset {_pos}");
        }

        private bool Word(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0) return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw new FormatException($"expected '{c}' at offset {_pos}");
            _pos++;
        }

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipSpace()
        {
            while (_pos < text.Length && text[_pos] is ' ' or '\t' or '\n' or '\r') _pos++;
        }
    }
}
