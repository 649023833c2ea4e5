using Iwae.Core.Onnx;

namespace Iwae.Tests.Core.Checkpoints;

/// <summary>The protocol-buffers encoding under the ONNX export, against byte strings from the protobuf encoding guide.</summary>
public class ProtoWriterTests
{
    [Test]
    public void Varints_Strings_AndNestedMessages_AreEncodedAsTheGuideShows()
    {
        // Field 1 = 150: key 0x08, then 150 as the varint 0x96 0x01.
        Assert.That(new ProtoWriter().Int(1, 150).ToArray(), Is.EqualTo(new byte[] { 0x08, 0x96, 0x01 }));
        // Field 2 = "testing": key 0x12, length 7, the UTF-8 bytes.
        Assert.That(new ProtoWriter().String(2, "testing").ToArray(), Is.EqualTo((byte[])[0x12, 0x07, .. "testing"u8.ToArray()]));
        // Field 3 = a message whose field 1 is 150: key 0x1a, length 3, then that message.
        Assert.That(new ProtoWriter().Message(3, m => m.Int(1, 150)).ToArray(), Is.EqualTo(new byte[] { 0x1a, 0x03, 0x08, 0x96, 0x01 }));
        // int64 -1 takes ten bytes; field 20 needs a two-byte key (20 << 3 = 160).
        Assert.That(new ProtoWriter().Int(20, -1).ToArray(), Is.EqualTo(new byte[] { 0xa0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }));
    }

    [Test]
    public void Floats_AreLittleEndianSingles()
        => Assert.That(new ProtoWriter().FloatsAsBytes(9, [1f, -2.5f]).ToArray(),
            Is.EqualTo(new byte[] { 0x4a, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0 }));
}
