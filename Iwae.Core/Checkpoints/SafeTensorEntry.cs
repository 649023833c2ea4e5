using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Iwae.Core.Checkpoints;

/// <summary>Element types of the safetensors format, spelled as in its JSON header.</summary>
public enum SafeTensorDType
{
    /// <summary>Boolean, one byte.</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE single precision (parameters, optimiser moments).</summary>
    F32,
    /// <summary>IEEE double precision.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer (the RNG state).</summary>
    U64,
}

/// <summary>
/// One named tensor of a safetensors file: dtype, shape and its raw little-endian bytes, row-major.
/// Typed access (<see cref="ToF32"/> etc.) copies; the bytes themselves are never reinterpreted as text,
/// so values round-trip bit-exactly (negative zero, subnormals, NaN payloads included).
/// </summary>
public sealed class SafeTensorEntry
{
    private readonly int[] _shape;

    /// <summary>
    /// An entry over <paramref name="data"/> (not copied). Its length must be the product of
    /// <paramref name="shape"/> times the size of <paramref name="dtype"/>; an empty shape is a scalar.
    /// </summary>
    public SafeTensorEntry(string name, SafeTensorDType dtype, ReadOnlySpan<int> shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!Enum.IsDefined(dtype)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype");
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"shape {ShapeString(shape)} has a negative dimension");
            count = checked(count * d);
        }
        long bytes = checked(count * SizeOf(dtype));
        if (bytes != data.Length)
            throw new ArgumentException($"{name}: {dtype} shape {ShapeString(shape)} needs {bytes} bytes, got {data.Length}", nameof(data));
        Name = name;
        DType = dtype;
        _shape = shape.ToArray();
        ElementCount = count;
        Data = data;
    }

    /// <summary>The tensor's name (the key in the JSON header).</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Product of the dimensions.</summary>
    public long ElementCount { get; }

    /// <summary>The raw bytes, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The shape as "[d0,d1,...]".</summary>
    public string ShapeString() => ShapeString(_shape);

    /// <summary>A copy of the shape.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <summary>An F32 entry holding a little-endian copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromF32(string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> values) => From(name, SafeTensorDType.F32, shape, values);

    /// <summary>An F64 entry holding a little-endian copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromF64(string name, ReadOnlySpan<int> shape, ReadOnlySpan<double> values) => From(name, SafeTensorDType.F64, shape, values);

    /// <summary>An I64 entry holding a little-endian copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromI64(string name, ReadOnlySpan<int> shape, ReadOnlySpan<long> values) => From(name, SafeTensorDType.I64, shape, values);

    /// <summary>A U64 entry holding a little-endian copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromU64(string name, ReadOnlySpan<int> shape, ReadOnlySpan<ulong> values) => From(name, SafeTensorDType.U64, shape, values);

    /// <summary>The values of an F32 entry (a copy).</summary>
    /// <exception cref="InvalidOperationException">The entry has another dtype.</exception>
    public float[] ToF32() => To<float>(SafeTensorDType.F32);

    /// <summary>The values of an F64 entry (a copy).</summary>
    /// <exception cref="InvalidOperationException">The entry has another dtype.</exception>
    public double[] ToF64() => To<double>(SafeTensorDType.F64);

    /// <summary>The values of an I64 entry (a copy).</summary>
    /// <exception cref="InvalidOperationException">The entry has another dtype.</exception>
    public long[] ToI64() => To<long>(SafeTensorDType.I64);

    /// <summary>The values of a U64 entry (a copy).</summary>
    /// <exception cref="InvalidOperationException">The entry has another dtype.</exception>
    public ulong[] ToU64() => To<ulong>(SafeTensorDType.U64);

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int SizeOf(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.F64 or SafeTensorDType.I64 or SafeTensorDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a safetensors dtype"),
    };

    internal static string ShapeString(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    private static SafeTensorEntry From<T>(string name, SafeTensorDType dtype, ReadOnlySpan<int> shape, ReadOnlySpan<T> values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian) SwapBytes(bytes, SafeTensorEntry.SizeOf(dtype));
        return new SafeTensorEntry(name, dtype, shape, bytes);
    }

    private T[] To<T>(SafeTensorDType dtype) where T : unmanaged
    {
        if (DType != dtype) throw new InvalidOperationException($"{Name} is {DType} {ShapeString()}, not {dtype}");
        var values = new T[ElementCount];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        Data.Span.CopyTo(bytes);
        if (!BitConverter.IsLittleEndian) SwapBytes(bytes, SizeOf(dtype));
        return values;
    }

    // The format is little-endian; only a big-endian host needs this.
    private static void SwapBytes(Span<byte> bytes, int size)
    {
        switch (size)
        {
            case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(bytes), MemoryMarshal.Cast<byte, ushort>(bytes)); break;
            case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(bytes), MemoryMarshal.Cast<byte, uint>(bytes)); break;
            case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(bytes), MemoryMarshal.Cast<byte, ulong>(bytes)); break;
        }
    }
}
