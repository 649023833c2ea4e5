using System.Buffers.Binary;
using System.Buffers;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// Reader and writer for the safetensors format (Hugging Face), so checkpoints open in PyTorch
/// (<c>safetensors.torch.load_file</c>) and vice versa. Layout:
/// <code>
/// u64 little-endian N | N bytes UTF-8 JSON header, space-padded | data section (raw little-endian bytes)
/// header = {"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, ...}
/// </code>
/// Offsets are relative to the data section; the tensors cover it exactly, back to back.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted when reading (the reference implementation's limit).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>The reserved header key of the string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes <paramref name="entries"/> and <paramref name="metadata"/> to <paramref name="path"/>, atomically:
    /// the bytes go to <c>path + ".tmp-&lt;random&gt;"</c> in the same folder, are flushed to disk, and the
    /// temporary file is then renamed over <paramref name="path"/>; on any failure it is deleted, and an
    /// existing file at <paramref name="path"/> is left as it was.
    /// Tensors with 8-byte elements are laid out first (then 4, 2, 1; otherwise in the given order), so with the
    /// header padded to a multiple of 8 every tensor is naturally aligned in the file.
    /// </summary>
    /// <param name="path">Target file.</param>
    /// <param name="metadata">Stored as <c>__metadata__</c>; null or empty writes none.</param>
    /// <param name="entries">Tensors with distinct, non-empty names other than <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">Duplicate or reserved tensor names.</exception>
    /// <exception cref="IOException">The folder is missing, the disk is full, ... (nothing is left behind).</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> entries)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(entries);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ordered = new List<SafeTensorEntry>();
        foreach (var e in entries)
        {
            ArgumentNullException.ThrowIfNull(e, nameof(entries));
            if (e.Name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved, not a tensor name", nameof(entries));
            if (!names.Add(e.Name)) throw new ArgumentException($"tensor name '{e.Name}' appears twice", nameof(entries));
            ordered.Add(e);
        }
        ordered = [.. ordered.OrderByDescending(e => SafeTensorEntry.SizeOf(e.DType))];   // stable
        byte[] header = BuildHeader(metadata, ordered);

        string tmp = path + ".tmp-" + RandomNumberGenerator.GetHexString(12, lowercase: true);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                fs.Write(length);
                fs.Write(header);
                foreach (var e in ordered) fs.Write(e.Data.Span);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>
    /// Reads and validates a whole safetensors file: header length and size, JSON syntax and structure,
    /// dtypes, that each tensor's byte span matches its shape, and that the tensors cover the data section
    /// exactly, without gaps or overlaps.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Missing file or any of the problems above; the one-line
    /// message names the file and the problem.</exception>
    /// <exception cref="IOException">Other I/O failures (permissions, device errors).</exception>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            var inside = Directory.EnumerateFiles(path, "*.safetensors").Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
            throw new CheckpointFormatException(path, inside.Length == 0
                ? "is a folder, not a .safetensors file"
                : $"is a folder, not a .safetensors file; give a file in it ({string.Join(", ", inside)})");
        }
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointFormatException(path, "file not found", e);
        }
        using (fs)
        {
            long fileLength = fs.Length;
            if (fileLength < 8) throw new CheckpointFormatException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            byte[] header, data;
            try
            {
                fs.ReadExactly(prefix);
                ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
                if (n > MaxHeaderBytes || n > (ulong)(fileLength - 8))
                {
                    if (TorchSave(prefix) is string what)
                        throw new CheckpointFormatException(path, $"is {what}, as torch.save writes, not a safetensors file; in Python, write the state_dict with safetensors.torch.save_file (docs/interop.md)");
                    // A safetensors file opens with its header's length, then "{": anything else is another kind of file.
                    string kind = fileLength > 8 && fs.ReadByte() != '{' ? "not a safetensors file (a checkpoint is one, as iwae train and iwae import write it): " : "";
                    throw new CheckpointFormatException(path, kind + (n > MaxHeaderBytes
                        ? $"header length {n} exceeds the limit of {MaxHeaderBytes} bytes (100 MB)"
                        : $"header length {n} is larger than the {fileLength - 8} bytes that follow it"));
                }
                long dataLength = fileLength - 8 - (long)n;
                if (dataLength > Array.MaxLength) throw new CheckpointFormatException(path, $"data section of {dataLength} bytes is larger than this reader supports ({Array.MaxLength})");
                header = new byte[n];
                fs.ReadExactly(header);
                data = new byte[dataLength];
                fs.ReadExactly(data);
            }
            catch (EndOfStreamException e)
            {
                throw new CheckpointFormatException(path, "file ended early (changed while being read?)", e);
            }
            return Parse(path, header, data);
        }
    }

    // What a file that is no safetensors file starts with when torch.save wrote it: a zip archive (since PyTorch 1.6), or
    // a bare pickle (protocol 2 and later: 0x80, then the protocol). Asked only of files whose header length is impossible.
    private static string? TorchSave(ReadOnlySpan<byte> prefix) =>
        prefix[0] == (byte)'P' && prefix[1] == (byte)'K' && prefix[2] == 3 && prefix[3] == 4 ? "a zip archive"
        : prefix[0] == 0x80 && prefix[1] is >= 2 and <= 5 ? "a pickle"
        : null;

    private static SafeTensorsFile Parse(string path, byte[] header, byte[] data)
    {
        CheckpointFormatException Bad(string problem, Exception? inner = null) => new(path, problem, inner);

        if (!Utf8.IsValid(header)) throw Bad("header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Bad($"header is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad($"header is a JSON {root.ValueKind}, not an object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var found = new List<(string Name, SafeTensorDType DType, int[] Shape, long Begin, long End)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Bad($"header has key '{prop.Name}' twice");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind == JsonValueKind.Null) continue;
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad($"'{MetadataKey}' is a JSON {prop.Value.ValueKind}, not an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{m.Name}' is a JSON {m.Value.ValueKind}, not a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad($"metadata key '{m.Name}' appears twice");
                    }
                    continue;
                }
                found.Add(ParseInfo(prop, data.Length, Bad));
            }

            // Sorted by position, the tensors must tile [0, data.Length): each begins where the previous ended.
            found.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expected = 0;
            string? previous = null;
            foreach (var t in found)
            {
                if (t.Begin < expected) throw Bad($"tensor '{t.Name}' data_offsets [{t.Begin},{t.End}] overlap tensor '{previous}', which ends at {expected}");
                if (t.Begin > expected) throw Bad($"gap of {t.Begin - expected} bytes before tensor '{t.Name}' (data_offsets [{t.Begin},{t.End}])");
                expected = t.End;
                previous = t.Name;
            }
            if (expected != data.Length) throw Bad($"tensors cover {expected} bytes but the data section has {data.Length}");

            var entries = new SafeTensorEntry[found.Count];
            for (int i = 0; i < found.Count; i++)
            {
                var t = found[i];
                entries[i] = new SafeTensorEntry(t.Name, t.DType, t.Shape, new ReadOnlyMemory<byte>(data, (int)t.Begin, (int)(t.End - t.Begin)));
            }
            return new SafeTensorsFile(path, metadata, entries);
        }
    }

    private static (string Name, SafeTensorDType DType, int[] Shape, long Begin, long End) ParseInfo(
        JsonProperty prop, long dataLength, Func<string, Exception?, CheckpointFormatException> bad)
    {
        string name = prop.Name;
        CheckpointFormatException Bad(string problem) => bad($"tensor '{name}': {problem}", null);

        if (name.Length == 0) throw bad("a tensor has an empty name", null);
        var info = prop.Value;
        if (info.ValueKind != JsonValueKind.Object) throw Bad($"entry is a JSON {info.ValueKind}, not an object");
        if (!info.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String) throw Bad("'dtype' is missing or not a string");
        string dtypeName = dtypeEl.GetString()!;
        if (!Enum.GetNames<SafeTensorDType>().Contains(dtypeName, StringComparer.Ordinal)) throw Bad($"unknown dtype '{dtypeName}'");
        var dtype = Enum.Parse<SafeTensorDType>(dtypeName);

        if (!info.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array) throw Bad("'shape' is missing or not an array");
        var shape = new int[shapeEl.GetArrayLength()];
        int k = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0 || v > int.MaxValue) throw Bad($"shape {d.GetRawText()} is not a dimension in [0, {int.MaxValue}]");
            shape[k++] = (int)v;
        }

        if (!info.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2) throw Bad("'data_offsets' is missing or not [begin, end]");
        long begin = Offset(offEl[0]), end = Offset(offEl[1]);
        long Offset(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0 ? v : throw Bad($"data_offsets {offEl.GetRawText()} are not non-negative integers");
        if (end < begin) throw Bad($"data_offsets [{begin},{end}] end before they begin");
        if (end > dataLength) throw Bad($"data_offsets [{begin},{end}] are out of range: the data section has {dataLength} bytes");

        // Elements of the shape, stopping once it exceeds what the span could hold (so huge shapes cannot overflow).
        long count = shape.Contains(0) ? 0 : 1;
        foreach (int d in shape)
        {
            if (count > dataLength) break;
            count *= d;
        }
        long bytes = count > dataLength ? -1 : count * SafeTensorEntry.SizeOf(dtype);
        if (bytes != end - begin)
            throw Bad($"{dtype} shape {SafeTensorEntry.ShapeString(shape)} needs {(bytes < 0 ? "more than the data section's" : bytes)} bytes but data_offsets [{begin},{end}] span {end - begin}");
        return (name, dtype, shape, begin, end);
    }

    private static byte[] BuildHeader(IReadOnlyDictionary<string, string>? metadata, List<SafeTensorEntry> ordered)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, $"{nameof(metadata)}[{key}]");
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in ordered)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.ToString());
                w.WriteStartArray("shape");
                foreach (int d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.Data.Length;
            }
            w.WriteEndObject();
        }
        // Pad with spaces (valid trailing JSON whitespace) so the data section starts 8-byte aligned.
        int length = buffer.WrittenCount, padded = (length + 7) & ~7;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    /// <summary>Deletes <paramref name="path"/> if it can; a failure to clean up must not hide the failure being reported.</summary>
    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original failure is the one to report.
        }
    }
}
