using System.Buffers.Binary;

namespace Iwae.Datasets;

/// <summary>The little-endian element types the binary readers (NPY, MAT) convert to float.</summary>
internal enum RawType { Bool, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Float16, Float32, Float64 }

/// <summary>
/// Little-endian bytes to floats, for <see cref="NpyReader"/> and <see cref="MatReader"/>: the element
/// sizes, numpy's names, one conversion loop per type, and a chunked reader that never trusts a header's
/// count with an allocation the input cannot back.
/// </summary>
internal static class RawValues
{
    // A multiple of every element size, so a chunk never splits an element.
    private const int ChunkBytes = 1 << 16;

    // Where the size is unverifiable (compressed input) the array starts this small and doubles.
    private const int InitialValues = 1 << 18;

    public static int SizeOf(RawType type) => type switch
    {
        RawType.Bool or RawType.Int8 or RawType.UInt8 => 1,
        RawType.Int16 or RawType.UInt16 or RawType.Float16 => 2,
        RawType.Int32 or RawType.UInt32 or RawType.Float32 => 4,
        _ => 8,
    };

    public static string NumpyName(RawType type) => type switch
    {
        RawType.Bool => "bool",
        RawType.Int8 => "int8",
        RawType.UInt8 => "uint8",
        RawType.Int16 => "int16",
        RawType.UInt16 => "uint16",
        RawType.Int32 => "int32",
        RawType.UInt32 => "uint32",
        RawType.Int64 => "int64",
        RawType.UInt64 => "uint64",
        RawType.Float16 => "float16",
        RawType.Float32 => "float32",
        _ => "float64",
    };

    /// <summary>Converts src (dst.Length elements of <paramref name="type"/>, little-endian) to floats.</summary>
    public static void ToFloat(ReadOnlySpan<byte> src, RawType type, Span<float> dst)
    {
        int n = dst.Length;
        switch (type)
        {
            case RawType.Bool: for (int i = 0; i < n; i++) dst[i] = src[i] != 0 ? 1f : 0f; break;
            case RawType.Int8: for (int i = 0; i < n; i++) dst[i] = (sbyte)src[i]; break;
            case RawType.UInt8: for (int i = 0; i < n; i++) dst[i] = src[i]; break;
            case RawType.Int16: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt16LittleEndian(src[(2 * i)..]); break;
            case RawType.UInt16: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]); break;
            case RawType.Int32: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(4 * i)..]); break;
            case RawType.UInt32: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt32LittleEndian(src[(4 * i)..]); break;
            case RawType.Int64: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadInt64LittleEndian(src[(8 * i)..]); break;
            case RawType.UInt64: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadUInt64LittleEndian(src[(8 * i)..]); break;
            case RawType.Float16: for (int i = 0; i < n; i++) dst[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(src[(2 * i)..]); break;
            case RawType.Float32: for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]); break;
            default: for (int i = 0; i < n; i++) dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]); break;
        }
    }

    /// <summary>
    /// Reads <paramref name="count"/> (at most <see cref="Array.MaxLength"/>) elements of
    /// <paramref name="type"/> from <paramref name="stream"/>. With <paramref name="sizeChecked"/> the caller
    /// has verified that the stream holds them (a plain file's length), so the array is allocated at once;
    /// otherwise (compressed input) it grows as bytes arrive, so a lying header costs at most about twice
    /// the data really there. False when the stream ends early; <paramref name="bytesRead"/> says how much came.
    /// </summary>
    public static bool TryRead(Stream stream, long count, RawType type, bool sizeChecked, out float[] values, out long bytesRead)
    {
        int size = SizeOf(type);
        values = new float[sizeChecked ? count : Math.Min(count, InitialValues)];
        var chunk = new byte[(int)Math.Min(ChunkBytes, count * size)];
        long done = 0;
        while (done < count)
        {
            int want = (int)Math.Min(chunk.Length, (count - done) * size);
            int got = DataFile.ReadFully(stream, chunk.AsSpan(0, want));
            int items = got / size;
            if (done + items > values.Length)
                Array.Resize(ref values, (int)Math.Min(count, Math.Max(2L * values.Length, done + items)));
            ToFloat(chunk.AsSpan(0, items * size), type, values.AsSpan((int)done, items));
            done += items;
            if (got < want)
            {
                bytesRead = done * size + got % size;
                return false;
            }
        }
        bytesRead = done * size;
        return true;
    }

    /// <summary>Column-major (MATLAB, Fortran) <paramref name="src"/> of shape rows x cols, as a new row-major array.</summary>
    public static float[] ColumnToRowMajor(float[] src, int rows, int cols)
    {
        if (rows <= 1 || cols <= 1) return src;
        var dst = new float[src.Length];
        for (int j = 0; j < cols; j++)
        {
            ReadOnlySpan<float> column = src.AsSpan(j * rows, rows);
            for (int i = 0; i < rows; i++) dst[i * cols + j] = column[i];
        }
        return dst;
    }
}
