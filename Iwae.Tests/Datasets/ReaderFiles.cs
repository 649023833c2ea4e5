using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Iwae.Tests.Datasets;

/// <summary>
/// Writers of small .npy, .npz and MAT level 5 files, byte by byte, for the reader tests and the fuzz
/// tests: each test builds exactly the file it needs (a small data element, a double stored as uint8, a
/// header of format 3.0) instead of depending on what some library writes today.
/// </summary>
internal static class ReaderFiles
{
    // ---- .npy / .npz ----

    /// <summary>Little-endian bytes of <paramref name="values"/> (the test machines are little-endian).</summary>
    public static byte[] Bytes<T>(params T[] values) where T : unmanaged
    {
        Assert.That(BitConverter.IsLittleEndian, Is.True);
        return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    /// <summary>The header dict numpy writes, e.g. <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c>.</summary>
    public static string NpyDict(string descr, bool fortran, params long[] shape)
    {
        string s = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        return $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {s}, }}";
    }

    /// <summary>An .npy file: magic, version, header length, the dict padded with spaces and a newline to a multiple of 64, data.</summary>
    public static byte[] Npy(string dict, byte[] data, int version = 1)
    {
        int prefix = version == 1 ? 10 : 12;
        int unpadded = prefix + Encoding.UTF8.GetByteCount(dict) + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        var file = new byte[prefix + headerBytes.Length + data.Length];
        file[0] = 0x93;
        "NUMPY"u8.CopyTo(file.AsSpan(1));
        file[6] = (byte)version;
        file[7] = 0;
        if (version == 1) BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)headerBytes.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), (uint)headerBytes.Length);
        headerBytes.CopyTo(file, prefix);
        data.CopyTo(file, prefix + headerBytes.Length);
        return file;
    }

    public static byte[] Npy(string descr, bool fortran, long[] shape, byte[] data, int version = 1)
        => Npy(NpyDict(descr, fortran, shape), data, version);

    /// <summary>A zip of .npy members, stored (<see cref="CompressionLevel.NoCompression"/>) or deflated.</summary>
    public static byte[] Npz(CompressionLevel level, params (string Name, byte[] Npy)[] members)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, npy) in members)
            {
                using Stream s = zip.CreateEntry(name, level).Open();
                s.Write(npy);
            }
        }
        return ms.ToArray();
    }

    // ---- MAT-file level 5 ----

    public const uint MiInt8 = 1, MiUInt8 = 2, MiInt16 = 3, MiUInt16 = 4, MiInt32 = 5, MiUInt32 = 6,
        MiSingle = 7, MiDouble = 9, MiMatrix = 14, MiCompressed = 15, MiUtf8 = 16;

    public const int MxCell = 1, MxStruct = 2, MxChar = 4, MxSparse = 5, MxDouble = 6, MxSingle = 7, MxInt8 = 8,
        MxUInt8 = 9, MxInt16 = 10, MxUInt16 = 11, MxInt32 = 12, MxUInt32 = 13;

    public const uint Complex = 0x0800, Logical = 0x0200;

    /// <summary>The 128-byte header: text, subsystem offset, version 0x0100, endian indicator.</summary>
    public static byte[] MatHeader(string endian = "IM", string text = "MATLAB 5.0 MAT-file, Platform: Iwae.Tests", ulong subsystem = 0)
    {
        var h = new byte[128];
        h.AsSpan(0, 116).Fill((byte)' ');
        Encoding.ASCII.GetBytes(text).CopyTo(h, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(116), subsystem);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(124), 0x0100);
        h[126] = (byte)endian[0];
        h[127] = (byte)endian[1];
        return h;
    }

    /// <summary>A data element in the normal form: type, byte count, data, zero padding to 8 bytes.</summary>
    public static byte[] Element(uint type, byte[] data)
    {
        var e = new byte[8 + data.Length + (8 - data.Length % 8) % 8];
        BinaryPrimitives.WriteUInt32LittleEndian(e, type);
        BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), (uint)data.Length);
        data.CopyTo(e, 8);
        return e;
    }

    /// <summary>A small data element: byte count and type packed in 4 bytes, then up to 4 bytes of data.</summary>
    public static byte[] SmallElement(uint type, byte[] data)
    {
        Assert.That(data.Length, Is.LessThanOrEqualTo(4));
        var e = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)data.Length << 16 | type);
        data.CopyTo(e, 4);
        return e;
    }

    /// <summary>
    /// An miMATRIX element: array flags, dimensions, name (small form when it fits, as MATLAB does), then the
    /// real part stored as <paramref name="dataType"/> (small form when <paramref name="smallData"/>).
    /// </summary>
    public static byte[] Matrix(string name, int cls, int[] dims, uint dataType, byte[] data, uint flags = 0, bool smallData = false, byte[]? extra = null)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name);
        byte[] body = [
            .. Element(MiUInt32, [.. Bytes((uint)cls | flags), .. Bytes(0u)]),
            .. Element(MiInt32, Bytes(dims)),
            .. nameBytes.Length <= 4 ? SmallElement(MiInt8, nameBytes) : Element(MiInt8, nameBytes),
            .. smallData ? SmallElement(dataType, data) : Element(dataType, data),
            .. extra ?? []];
        return Element(MiMatrix, body);
    }

    /// <summary>A char row vector, stored as UTF-16 code units (miUINT16), as MATLAB writes it.</summary>
    public static byte[] CharMatrix(string name, string text)
        => Matrix(name, MxChar, [1, text.Length], MiUInt16, Bytes(text.ToCharArray()));

    /// <summary>A cell array of the given (unnamed) matrices, 1 x n.</summary>
    public static byte[] CellMatrix(string name, params byte[][] cells)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name);
        byte[] body = [
            .. Element(MiUInt32, [.. Bytes((uint)MxCell), .. Bytes(0u)]),
            .. Element(MiInt32, Bytes(1, cells.Length)),
            .. nameBytes.Length <= 4 ? SmallElement(MiInt8, nameBytes) : Element(MiInt8, nameBytes),
            .. cells.SelectMany(c => c)];
        return Element(MiMatrix, body);
    }

    /// <summary>A 1 x 1 struct with one double field, as MATLAB writes it (field name length, names, values).</summary>
    public static byte[] StructMatrix(string name, string field, double value)
    {
        var names = new byte[32];
        Encoding.ASCII.GetBytes(field).CopyTo(names, 0);
        byte[] body = [
            .. Element(MiUInt32, [.. Bytes((uint)MxStruct), .. Bytes(0u)]),
            .. Element(MiInt32, Bytes(1, 1)),
            .. SmallElement(MiInt8, Encoding.ASCII.GetBytes(name)),
            .. SmallElement(MiInt32, Bytes(32)),
            .. Element(MiInt8, names),
            .. Matrix("", MxDouble, [1, 1], MiDouble, Bytes(value))];
        return Element(MiMatrix, body);
    }

    /// <summary>An miCOMPRESSED element: the zlib stream of <paramref name="element"/>, not padded.</summary>
    public static byte[] Compressed(byte[] element)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(element);
        byte[] zipped = ms.ToArray();
        return [.. Bytes(MiCompressed, (uint)zipped.Length), .. zipped];
    }

    public static byte[] Mat(params byte[][] elements) => [.. MatHeader(), .. elements.SelectMany(e => e)];

    /// <summary>MATLAB's column-major order of a rows x cols matrix given row by row.</summary>
    public static T[] ColumnMajor<T>(T[] rowMajor, int rows, int cols)
    {
        var c = new T[rowMajor.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c[j * rows + i] = rowMajor[i * cols + j];
        return c;
    }
}
