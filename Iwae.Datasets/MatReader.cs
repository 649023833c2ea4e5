using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Iwae.Datasets;

/// <summary>
/// Reads the numeric matrices of a MATLAB MAT-file, level 5 (what <c>save -v7</c>, Octave and
/// <c>scipy.io.savemat</c> write; Burda et al.'s Omniglot <c>chardata.mat</c> is one): a 128-byte header
/// whose text starts "MATLAB 5.0 MAT-file" and ends in the little-endian indicator "IM", then data
/// elements, each an 8-byte tag (type, byte count) and its data padded to 8 bytes. A variable is an
/// miMATRIX element (array flags, dimensions, name, real part), or an miCOMPRESSED element: a zlib stream
/// holding one miMATRIX. Every problem with the input, including a missing file, throws
/// <see cref="DataFormatException"/> with a one-line message naming the file (and the variable).
/// </summary>
/// <remarks>
/// <para>Read: every real, 2-D matrix of class double, single, int8-64 or uint8-64 (logical too),
/// whatever smaller type its data is stored in (MATLAB writes a double matrix of small integers as
/// miUINT8). MATLAB is column-major; values come back row-major with MATLAB's dimensions, so a
/// 784 x 24345 matrix is Rows = 784, Cols = 24345. Not read, but listed by <see cref="ReadFile"/> with their
/// kind (<see cref="MatVariable"/>), so that a caller can refuse them: variables of other classes (cell, struct,
/// char, sparse, objects), complex matrices and arrays of more than 2 dimensions. Ignored: the subsystem data
/// block and data elements that are not variables.</para>
/// <para>Refused: big-endian files ("MI"), MATLAB 7.3 files (HDF5), level 4 files.</para>
/// <para>A corrupt file must not make us allocate gigabytes: an element's declared size is checked against
/// the file before it is read, names and dimension lists are capped, and a compressed matrix's values grow
/// only as decompressed bytes actually arrive.</para>
/// </remarks>
public static class MatReader
{
    /// <summary>Longest variable name accepted, in bytes (MATLAB's own limit is 63 characters).</summary>
    public const int MaxNameBytes = 4096;

    /// <summary>Most dimensions accepted in a matrix's dimension list.</summary>
    public const int MaxDimensions = 64;

    private const int HeaderBytes = 128;

    // Data types of MAT-file level 5.
    private const uint MiInt8 = 1, MiUInt8 = 2, MiInt16 = 3, MiUInt16 = 4, MiInt32 = 5, MiUInt32 = 6,
        MiSingle = 7, MiDouble = 9, MiInt64 = 12, MiUInt64 = 13, MiMatrix = 14, MiCompressed = 15, MiUtf8 = 16;

    // Array flags: the low byte is the class; the next byte holds these bits.
    private const uint ComplexFlag = 0x0800, LogicalFlag = 0x0200;

    /// <summary>Reads every real 2-D numeric matrix of a level 5 MAT-file, in file order, passing over the other variables (see <see cref="ReadFile"/>).</summary>
    /// <param name="path">The file, e.g. <c>chardata.mat</c>.</param>
    /// <returns>One array per numeric variable, named as in MATLAB; DType from the class ("float64" for double,
    /// "uint8", "bool" for logical, ...). Possibly empty.</returns>
    /// <exception cref="DataFormatException">The file is missing, not a little-endian level 5 MAT-file, or corrupt.</exception>
    public static IReadOnlyList<DataArray> Read(string path) => ReadFile(path).Arrays;

    /// <summary>
    /// Reads every real 2-D numeric matrix of a level 5 MAT-file, in file order, and names the variables it does not
    /// read (cell, struct, char, sparse, object, complex, more than 2-D) with their kind.
    /// </summary>
    /// <param name="path">The file, e.g. <c>chardata.mat</c>.</param>
    /// <exception cref="DataFormatException">The file is missing, not a little-endian level 5 MAT-file, or corrupt.</exception>
    public static MatFile ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = DataFile.OpenRead(path);
        long at = 0;
        try
        {
            long subsystem = ReadHeader(path, file);
            long length = file.Length;
            var arrays = new List<DataArray>();
            var unsupported = new List<MatVariable>();
            Span<byte> tag = stackalloc byte[8];
            for (at = HeaderBytes; at < length;)
            {
                if (length - at < 8)
                    throw DataFormatException.At(path, $"truncated data element at byte {at}: {length - at} bytes where a tag needs 8");
                file.Position = at;
                DataFile.ReadFully(file, tag);
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(tag);
                if (type >> 16 != 0)
                {
                    at += 8; // a small data element: 4 bytes of data in the tag, no variable
                    continue;
                }
                long size = BinaryPrimitives.ReadUInt32LittleEndian(tag[4..]);
                if (size > length - at - 8)
                    throw DataFormatException.At(path, $"data element at byte {at} declares {size} bytes, the file holds {length - at - 8} after its tag");
                if (at != subsystem)
                {
                    var (array, other) = type switch
                    {
                        MiMatrix => ReadMatrix(new Element(path, at, file, size, sizeChecked: true)),
                        MiCompressed => ReadCompressed(path, at, file, size),
                        _ => default,
                    };
                    if (array is not null) arrays.Add(array);
                    if (other is not null) unsupported.Add(other);
                }
                at += 8 + size;
                if (type != MiCompressed) at += Pad(size); // compressed elements are not padded
            }
            return new MatFile(arrays, unsupported);
        }
        catch (InvalidDataException ex)
        {
            throw DataFormatException.At(path, $"compressed data element at byte {at}: corrupt zlib data: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"read error: {ex.Message}", ex);
        }
    }

    // Checks the 128-byte header; returns the subsystem data offset, or -1 when there is none.
    private static long ReadHeader(string path, FileStream file)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        int got = DataFile.ReadFully(file, h);
        if (got == 0) throw DataFormatException.At(path, "empty file: expected a 128-byte MAT-file header");
        ReadOnlySpan<byte> text = h[..got];
        if (text.StartsWith("MATLAB 7.3 MAT-file"u8))
            throw DataFormatException.At(path, "MATLAB 7.3 MAT-files are HDF5 files and are not supported: save with -v7 (or scipy.io.savemat)");
        ReadOnlySpan<byte> level5 = "MATLAB 5.0 MAT-file"u8;
        if (!text[..Math.Min(got, level5.Length)].SequenceEqual(level5[..Math.Min(got, level5.Length)]))
            throw DataFormatException.At(path, "not a level 5 MAT-file: the header text does not start with 'MATLAB 5.0 MAT-file' (level 4 and 7.3 files are not supported)");
        if (got < HeaderBytes) throw DataFormatException.At(path, $"truncated header: {got} bytes of 128");
        if (h[126] == 'M' && h[127] == 'I')
            throw DataFormatException.At(path, "big-endian MAT-file (endian indicator 'MI') is not supported: save it on a little-endian machine or with scipy.io.savemat");
        if (h[126] != 'I' || h[127] != 'M')
            throw DataFormatException.At(path, $"bad endian indicator 0x{h[126]:X2}{h[127]:X2} at byte 126: expected 'IM'");
        ulong subsystem = BinaryPrimitives.ReadUInt64LittleEndian(h[116..]);
        return subsystem is 0 or 0x2020202020202020 or > long.MaxValue ? -1 : (long)subsystem;
    }

    private static (DataArray?, MatVariable?) ReadCompressed(string path, long at, FileStream file, long size)
    {
        if (size > Array.MaxLength)
            throw DataFormatException.At(path, $"compressed data element at byte {at} of {size} bytes is larger than the largest possible array");
        var compressed = new byte[size]; // size was checked against the file's length
        if (DataFile.ReadFully(file, compressed) < size)
            throw DataFormatException.At(path, $"truncated compressed data element at byte {at}");
        using var zlib = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
        Span<byte> tag = stackalloc byte[8];
        int got = DataFile.ReadFully(zlib, tag);
        if (got < 8)
            throw DataFormatException.At(path, $"compressed data element at byte {at} decompresses to {got} bytes, less than a tag");
        if (BinaryPrimitives.ReadUInt32LittleEndian(tag) != MiMatrix) return default;
        return ReadMatrix(new Element(path, at, zlib, BinaryPrimitives.ReadUInt32LittleEndian(tag[4..]), sizeChecked: false));
    }

    // One miMATRIX's body: array flags, dimensions, name, real part. The array, or the variable (name and kind) not
    // read; neither for an empty placeholder.
    private static (DataArray?, MatVariable?) ReadMatrix(Element e)
    {
        if (e.Remaining == 0) return default; // an empty placeholder
        Span<byte> small = stackalloc byte[4];

        var (type, size, isSmall) = e.ReadTag(small);
        if (type != MiUInt32 || size != 8)
            throw e.Error($"array flags: expected an miUINT32 sub-element of 8 bytes, got type {type} of {size} bytes");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(e.ReadBody(size, isSmall, small, 8));
        uint cls = flags & 0xFF;
        bool logical = (flags & LogicalFlag) != 0;
        if (cls == OpaqueClass)
        {
            // An object of MATLAB's own classes (string, table, datetime): its name comes right after the flags.
            (type, size, isSmall) = e.ReadTag(small);
            if (type is MiInt8 or MiUInt8 or MiUtf8) e.Name = Encoding.UTF8.GetString(e.ReadBody(size, isSmall, small, MaxNameBytes));
            return (null, new MatVariable(e.Label, ClassName(cls, logical)));
        }

        (type, size, isSmall) = e.ReadTag(small);
        if (type != MiInt32 || size % 4 != 0 || size < 8)
            throw e.Error($"dimensions: expected an miINT32 sub-element of at least 2 values, got type {type} of {size} bytes");
        byte[] dimBytes = e.ReadBody(size, isSmall, small, 4 * MaxDimensions);
        var dims = new int[dimBytes.Length / 4];
        for (int d = 0; d < dims.Length; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32LittleEndian(dimBytes.AsSpan(4 * d));
            if (dims[d] < 0) throw e.Error($"negative dimension {dims[d]}");
        }

        (type, size, isSmall) = e.ReadTag(small);
        if (type is not (MiInt8 or MiUInt8 or MiUtf8))
            throw e.Error($"array name: expected an miINT8 sub-element, got type {type}");
        e.Name = Encoding.UTF8.GetString(e.ReadBody(size, isSmall, small, MaxNameBytes));

        string shape = string.Join("x", dims);
        RawType? classType = ClassType(cls, logical);
        if (classType is null) return (null, new MatVariable(e.Label, $"{ClassName(cls, logical)} ({shape})"));
        if (dims.Length != 2) return (null, new MatVariable(e.Label, $"{dims.Length}-D {ClassName(cls, logical)} array ({shape})"));
        if ((flags & ComplexFlag) != 0) return (null, new MatVariable(e.Label, $"complex {ClassName(cls, logical)} matrix ({shape})"));
        int rows = dims[0], cols = dims[1];
        long count = (long)rows * cols;
        if (count > Array.MaxLength)
            throw e.Error($"{rows} x {cols} = {count} elements, more than the largest possible array ({Array.MaxLength})");

        (type, size, isSmall) = e.ReadTag(small);
        RawType stored = StorageType(type) ?? throw e.Error($"real part: unsupported data type {type}");
        long needed = count * RawValues.SizeOf(stored);
        if (size != needed)
            throw e.Error($"real part holds {size} bytes, a {rows} x {cols} matrix stored as {RawValues.NumpyName(stored)} needs {needed}");
        float[] values = e.ReadValues(count, stored, isSmall, small);
        return (new DataArray(e.Name, rows, cols, RawValues.ColumnToRowMajor(values, rows, cols), RawValues.NumpyName(classType.Value)), null);
    }

    private const uint OpaqueClass = 17;

    // MATLAB's own names of its classes (mxCELL_CLASS = 1 ... mxUINT64_CLASS = 15, function handle 16, opaque 17).
    private static string ClassName(uint cls, bool logical) => cls switch
    {
        >= 6 and <= 15 when logical => "logical",
        1 => "cell array",
        2 => "struct",
        3 => "object",
        4 => "char array",
        5 => logical ? "sparse logical matrix" : "sparse matrix",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        16 => "function handle",
        OpaqueClass => "MATLAB object (a string, table, datetime, ...)",
        _ => $"variable of unknown class {cls}",
    };

    // mxDOUBLE_CLASS = 6 ... mxUINT64_CLASS = 15; the rest (cell 1, struct 2, object 3, char 4, sparse 5, ...) are skipped.
    private static RawType? ClassType(uint cls, bool logical) => cls switch
    {
        >= 6 and <= 15 when logical => RawType.Bool,
        6 => RawType.Float64,
        7 => RawType.Float32,
        8 => RawType.Int8,
        9 => RawType.UInt8,
        10 => RawType.Int16,
        11 => RawType.UInt16,
        12 => RawType.Int32,
        13 => RawType.UInt32,
        14 => RawType.Int64,
        15 => RawType.UInt64,
        _ => null,
    };

    private static RawType? StorageType(uint type) => type switch
    {
        MiInt8 => RawType.Int8,
        MiUInt8 => RawType.UInt8,
        MiInt16 => RawType.Int16,
        MiUInt16 => RawType.UInt16,
        MiInt32 => RawType.Int32,
        MiUInt32 => RawType.UInt32,
        MiSingle => RawType.Float32,
        MiDouble => RawType.Float64,
        MiInt64 => RawType.Int64,
        MiUInt64 => RawType.UInt64,
        _ => null,
    };

    private static long Pad(long size) => (8 - size % 8) % 8;

    /// <summary>
    /// Reads the sub-elements of one miMATRIX from a stream, never past the size its tag declares. With
    /// sizeChecked that size was checked against the file (an uncompressed element), so the values array
    /// can be allocated at once; inside a zlib stream it grows as data arrives.
    /// </summary>
    private sealed class Element(string path, long at, Stream stream, long size, bool sizeChecked)
    {
        public long Remaining { get; private set; } = size;

        public string Name { get; set; } = "";

        // The variable's name, or where it is when it has none (yet).
        public string Label => Name.Length > 0 ? Name : $"matrix at byte {at}";

        public DataFormatException Error(string problem)
            => DataFormatException.At(path, $"{(Name.Length > 0 ? $"variable '{Name}'" : Label)}: {problem}");

        // A tag, normal (8 bytes: type, size) or small (2 bytes size, 2 bytes type, 4 bytes of data copied to small).
        public (uint Type, long Size, bool Small) ReadTag(Span<byte> small)
        {
            if (Remaining < 8) throw Error($"truncated: {Remaining} bytes left in the matrix where a sub-element tag needs 8");
            Span<byte> tag = stackalloc byte[8];
            if (DataFile.ReadFully(stream, tag) < 8) throw Error("truncated data: the input ends inside a sub-element tag");
            Remaining -= 8;
            uint first = BinaryPrimitives.ReadUInt32LittleEndian(tag);
            if (first >> 16 != 0)
            {
                uint n = first >> 16;
                if (n > 4) throw Error($"small data element declares {n} bytes, at most 4 fit");
                tag[4..].CopyTo(small);
                return (first & 0xFFFF, n, true);
            }
            long length = BinaryPrimitives.ReadUInt32LittleEndian(tag[4..]);
            if (length > Remaining) throw Error($"sub-element of type {first} declares {length} bytes, only {Remaining} remain in the matrix");
            return (first, length, false);
        }

        // A short body (flags, dimensions, name) and its padding.
        public byte[] ReadBody(long length, bool isSmall, ReadOnlySpan<byte> small, int max)
        {
            if (isSmall) return small[..(int)length].ToArray();
            if (length > max) throw Error($"sub-element of {length} bytes is more than the limit of {max}");
            long padded = length + Pad(length);
            if (padded > Remaining) throw Error($"truncated: a sub-element of {length} bytes and its padding need {padded}, {Remaining} remain in the matrix");
            var body = new byte[padded];
            if (DataFile.ReadFully(stream, body) < padded) throw Error("truncated data: the input ends inside a sub-element");
            Remaining -= padded;
            return body.AsSpan(0, (int)length).ToArray();
        }

        // The real part: count elements stored as type, column-major.
        public float[] ReadValues(long count, RawType type, bool isSmall, ReadOnlySpan<byte> small)
        {
            if (isSmall)
            {
                var v = new float[count];
                RawValues.ToFloat(small, type, v);
                return v;
            }
            if (!RawValues.TryRead(stream, count, type, sizeChecked, out float[] values, out long read))
                throw Error($"truncated data: the real part needs {count * RawValues.SizeOf(type)} bytes, got {read}");
            Remaining -= count * RawValues.SizeOf(type);
            return values;
        }
    }
}

/// <summary>A variable of a MAT-file that <see cref="MatReader"/> does not read, and what kind it is.</summary>
/// <param name="Name">Its name in MATLAB (or "matrix at byte N" when it has none).</param>
/// <param name="Kind">Its kind as MATLAB would say it: "cell array (1x2)", "complex double matrix (16x20)",
/// "3-D double array (4x4x20)", "char array (1x5)".</param>
public sealed record MatVariable(string Name, string Kind);

/// <summary>What <see cref="MatReader.ReadFile"/> found in a MAT-file.</summary>
/// <param name="Arrays">Its real 2-D numeric matrices, in file order.</param>
/// <param name="Unsupported">Its other variables, in file order: not read, only named.</param>
public sealed record MatFile(IReadOnlyList<DataArray> Arrays, IReadOnlyList<MatVariable> Unsupported);
