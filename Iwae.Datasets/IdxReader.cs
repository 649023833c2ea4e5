using System.Buffers.Binary;
using System.IO.Compression;

namespace Iwae.Datasets;

/// <summary>
/// Reads IDX files, the format MNIST ships in (LeCun et al.): a big-endian magic number
/// <c>00 00 TT NN</c> (TT = data type, 0x08 for unsigned bytes; NN = number of dimensions), then NN
/// big-endian 32-bit dimension sizes, then the data. Files may be gzip-compressed; that is detected from
/// the gzip magic bytes 1F 8B, not from the file name. Every problem with the input, including a missing
/// file, throws <see cref="DataFormatException"/> with a one-line message naming the file.
/// </summary>
/// <remarks>
/// A corrupt header must not make us allocate gigabytes: dimensions are capped
/// (<see cref="MaxCount"/>, <see cref="MaxPixelsPerImage"/>), a plain file's length is checked against the
/// header before the data array is allocated, and gzip data is read into a buffer that grows only as
/// decompressed bytes actually arrive.
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an unsigned-byte, 3-D IDX file (images: count x rows x cols).</summary>
    public const uint ImagesMagic = 0x00000803;

    /// <summary>Magic number of an unsigned-byte, 1-D IDX file (labels).</summary>
    public const uint LabelsMagic = 0x00000801;

    /// <summary>Largest number of images or labels accepted in one file.</summary>
    public const int MaxCount = 10_000_000;

    /// <summary>Largest rows * cols accepted for one image.</summary>
    public const int MaxPixelsPerImage = 1_000_000;

    private const byte UnsignedByte = 0x08;

    // Gzip input is decompressed into a buffer that starts this small and doubles, so a header that
    // promises 2 GB costs at most twice the bytes the stream really holds.
    private const int InitialGzipBuffer = 1 << 20;

    /// <summary>Reads an IDX image file (magic 0x00000803), plain or gzip.</summary>
    /// <param name="path">The file, e.g. <c>train-images-idx3-ubyte.gz</c>.</param>
    /// <returns>The pixels (Count * Rows * Cols bytes) and the shape.</returns>
    /// <exception cref="DataFormatException">The file is missing, unreadable or not a well-formed IDX image file.</exception>
    public static IdxImages ReadImages(string path)
    {
        var (dims, data) = Read(path, rank: 3, kind: "images");
        return new IdxImages(data, dims[0], dims[1], dims[2]);
    }

    /// <summary>Reads an IDX label file (magic 0x00000801), plain or gzip.</summary>
    /// <param name="path">The file, e.g. <c>train-labels-idx1-ubyte.gz</c>.</param>
    /// <returns>One byte per label. Values are not checked (0..9 for MNIST, but any byte is kept).</returns>
    /// <exception cref="DataFormatException">The file is missing, unreadable or not a well-formed IDX label file.</exception>
    public static byte[] ReadLabels(string path) => Read(path, rank: 1, kind: "labels").Data;

    private static (int[] Dims, byte[] Data) Read(string path, int rank, string kind)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = Open(path);
        bool gzip = StartsWithGzipMagic(file, path);
        try
        {
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
            var dims = ReadHeader(path, stream, rank, kind, out long dataBytes);
            int headerBytes = 4 + 4 * rank;
            byte[] data = gzip
                ? ReadGzipData(path, stream, dataBytes, headerBytes, kind)
                : ReadPlainData(path, file, dataBytes, headerBytes, kind);
            return (dims, data);
        }
        catch (InvalidDataException ex) when (gzip)
        {
            throw DataFormatException.At(path, $"corrupt gzip data: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"read error: {ex.Message}", ex);
        }
    }

    private static FileStream Open(string path) => DataFile.OpenRead(path);

    private static bool StartsWithGzipMagic(FileStream file, string path)
    {
        Span<byte> head = stackalloc byte[2];
        try
        {
            int n = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            file.Position = 0;
            return n == 2 && head[0] == 0x1F && head[1] == 0x8B;
        }
        catch (IOException ex)
        {
            throw DataFormatException.At(path, $"read error: {ex.Message}", ex);
        }
    }

    // Reads magic + dims; returns the dims as ints and the number of data bytes they imply.
    private static int[] ReadHeader(string path, Stream stream, int rank, string kind, out long dataBytes)
    {
        uint expectedMagic = (uint)(UnsignedByte << 8 | rank);
        int headerBytes = 4 + 4 * rank;
        Span<byte> header = stackalloc byte[headerBytes];

        int got = stream.ReadAtLeast(header[..4], 4, throwOnEndOfStream: false);
        if (got == 0) throw DataFormatException.At(path, $"empty file: expected an IDX {kind} header of {headerBytes} bytes");
        if (got < 4) throw DataFormatException.At(path, $"truncated header: expected {headerBytes} bytes, got {got}");

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (header[0] != 0 || header[1] != 0)
            throw DataFormatException.At(path, $"wrong magic number 0x{magic:X8}: not an IDX file (expected 0x{expectedMagic:X8} for {kind})");
        if (header[2] != UnsignedByte)
            throw DataFormatException.At(path, $"unsupported IDX data type 0x{header[2]:X2} ({TypeName(header[2])}) in magic number 0x{magic:X8}: only unsigned bytes (0x08) are supported");
        if (header[3] != rank)
            throw DataFormatException.At(path, $"magic number 0x{magic:X8} declares {header[3]} dimension(s), {kind} need {rank} (expected 0x{expectedMagic:X8})");

        got = 4 + stream.ReadAtLeast(header[4..], headerBytes - 4, throwOnEndOfStream: false);
        if (got < headerBytes) throw DataFormatException.At(path, $"truncated header: expected {headerBytes} bytes, got {got}");

        // IDX sizes are unsigned 32-bit; cap each before multiplying so nothing overflows.
        var dims = new uint[rank];
        for (int d = 0; d < rank; d++) dims[d] = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * d)..]);

        if (dims[0] > MaxCount)
            throw DataFormatException.At(path, $"header declares {dims[0]} {kind}, more than the limit of {MaxCount} (corrupt header?)");
        ulong perItem = 1;
        if (rank == 3)
        {
            if (dims[1] == 0 || dims[2] == 0)
                throw DataFormatException.At(path, $"header declares empty {dims[1]}x{dims[2]} images");
            perItem = (ulong)dims[1] * dims[2];
            if (perItem > MaxPixelsPerImage)
                throw DataFormatException.At(path, $"header declares {dims[1]}x{dims[2]} images, more than the limit of {MaxPixelsPerImage} pixels per image (corrupt header?)");
        }
        ulong total = dims[0] * perItem;
        if (total > (ulong)Array.MaxLength)
            throw DataFormatException.At(path, $"header dimensions {string.Join(" x ", dims)} = {total} bytes overflow the largest possible array ({Array.MaxLength} bytes)");

        dataBytes = (long)total;
        return Array.ConvertAll(dims, d => (int)d);
    }

    private static byte[] ReadPlainData(string path, FileStream file, long dataBytes, int headerBytes, string kind)
    {
        // The length is known, so a lying header is caught before anything is allocated.
        long remaining = file.Length - file.Position;
        if (remaining < dataBytes)
            throw DataFormatException.At(path, $"truncated data: expected {dataBytes} bytes of {kind} after the {headerBytes}-byte header, got {remaining}");
        if (remaining > dataBytes)
            throw DataFormatException.At(path, $"trailing garbage: {remaining - dataBytes} bytes after the {dataBytes} bytes of {kind} the header declares");

        var data = new byte[dataBytes];
        int got = file.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (got < data.Length)
            throw DataFormatException.At(path, $"truncated data: expected {dataBytes} bytes of {kind} after the {headerBytes}-byte header, got {got}");
        return data;
    }

    private static byte[] ReadGzipData(string path, Stream stream, long dataBytes, int headerBytes, string kind)
    {
        var data = new byte[Math.Min(dataBytes, InitialGzipBuffer)];
        long filled = 0;
        while (true)
        {
            int n = stream.Read(data, (int)filled, data.Length - (int)filled);
            if (n == 0) break;
            filled += n;
            if (filled == data.Length)
            {
                if (filled == dataBytes) break;
                Array.Resize(ref data, (int)Math.Min(dataBytes, 2L * data.Length));
            }
        }
        if (filled < dataBytes)
            throw DataFormatException.At(path, $"truncated data: expected {dataBytes} bytes of {kind} after the {headerBytes}-byte header, got {filled} (after gzip decompression)");

        long trailing = CountTrailing(stream);
        if (trailing > 0)
            throw DataFormatException.At(path, $"trailing garbage: {(trailing >= TrailingCountLimit ? "at least " : "")}{trailing} bytes after the {dataBytes} bytes of {kind} the header declares (after gzip decompression)");
        return data;
    }

    private const long TrailingCountLimit = 1 << 20;

    // Counts what the stream still holds, stopping at TrailingCountLimit (a gzip bomb need not be inflated to be rejected).
    private static long CountTrailing(Stream stream)
    {
        Span<byte> scratch = stackalloc byte[4096];
        long count = 0;
        int n;
        while (count < TrailingCountLimit && (n = stream.Read(scratch)) > 0) count += n;
        return count;
    }

    private static string TypeName(byte type) => type switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown",
    };
}
