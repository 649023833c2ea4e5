using System.Buffers.Binary;
using System.Text;

namespace Iwae.Core.Onnx;

/// <summary>
/// The protocol-buffers wire format, as much of it as an ONNX file needs: varints (wire type 0), 32-bit values
/// (wire type 5) and length-delimited fields (wire type 2: strings, bytes, packed arrays and nested messages).
/// A field is a key, (number &lt;&lt; 3 | wire type) as a varint, then its value; a nested message is written to its own
/// writer first, so that its length can precede it. Fields are written in the order called; readers accept any order.
/// </summary>
internal sealed class ProtoWriter
{
    private const int Varint = 0, LengthDelimited = 2;
    private readonly MemoryStream _bytes = new();

    /// <summary>The bytes written so far.</summary>
    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>An int64, int32 or enum field (negative values take ten bytes, as protobuf encodes them).</summary>
    public ProtoWriter Int(int field, long value)
    {
        Key(field, Varint);
        WriteVarint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A string field, UTF-8.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Key(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        _bytes.Write(value);
        return this;
    }

    /// <summary>Floats as a bytes field of little-endian IEEE 754 singles (ONNX's TensorProto.raw_data).</summary>
    public ProtoWriter FloatsAsBytes(int field, ReadOnlySpan<float> values)
    {
        var raw = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        return Bytes(field, raw);
    }

    /// <summary>A nested message field, written by <paramref name="write"/> into a writer of its own.</summary>
    public ProtoWriter Message(int field, Action<ProtoWriter> write)
    {
        var inner = new ProtoWriter();
        write(inner);
        return Bytes(field, inner._bytes.GetBuffer().AsSpan(0, (int)inner._bytes.Length));
    }

    private void Key(int field, int wireType) => WriteVarint((ulong)((uint)field << 3 | (uint)wireType));

    // Seven bits a byte, least significant first, the high bit set on every byte but the last.
    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.WriteByte((byte)value);
    }
}
