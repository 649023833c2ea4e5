using System.IO.Compression;
using Iwae.Datasets;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

public class NpyReaderTests : TempDirTests
{
    internal static void ThrowsDataFormat(TestDelegate code, string path, string phrase)
    {
        var ex = Assert.Throws<DataFormatException>(code)!;
        TestContext.Out.WriteLine(ex.Message);
        Assert.That(ex.Message, Does.StartWith(path + ": "), "the message names the file");
        Assert.That(ex.Message, Does.Contain(phrase));
        Assert.That(ex.Message, Does.Not.Contain('\n').And.Not.Contain('\r'), "one line");
    }

    private static void AssertArray(DataArray a, string name, int rows, int cols, string dtype, float[] values)
    {
        Assert.That((a.Name, a.Rows, a.Cols, a.DType), Is.EqualTo((name, rows, cols, dtype)));
        Assert.That(a.Values, Is.EqualTo(values).AsCollection);
    }

    // ---- dtypes, orders, shapes ----

    [Test]
    public void Float32_COrder_2x3()
    {
        string path = Write("x.npy", Npy("<f4", false, [2, 3], Bytes(1f, 2f, 3f, 4f, 5f, -6.5f)));
        AssertArray(NpyReader.Read(path), "x.npy", 2, 3, "float32", [1, 2, 3, 4, 5, -6.5f]);
    }

    [Test]
    public void Float64_FortranOrder_BecomesRowMajor()
    {
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        string path = Write("f.npy", Npy("<f8", true, [2, 3], Bytes(1.0, 4.0, 2.0, 5.0, 3.0, 6.0)));
        AssertArray(NpyReader.Read(path), "f.npy", 2, 3, "float64", [1, 2, 3, 4, 5, 6]);
    }

    [Test]
    public void Float32_FortranOrder_3x2_MatchesCOrder()
    {
        float[] rowMajor = [0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f];
        string c = Write("c.npy", Npy("<f4", false, [3, 2], Bytes(rowMajor)));
        string f = Write("f.npy", Npy("<f4", true, [3, 2], Bytes(ColumnMajor(rowMajor, 3, 2))));
        Assert.That(NpyReader.Read(f).Values, Is.EqualTo(NpyReader.Read(c).Values).AsCollection);
    }

    [Test]
    public void Uint8_OneDimensional_IsNx1()
    {
        string path = Write("u.npy", Npy("|u1", false, [4], [0, 1, 128, 255]));
        AssertArray(NpyReader.Read(path), "u.npy", 4, 1, "uint8", [0, 1, 128, 255]);
    }

    [Test]
    public void Uint8_ThreeDimensional_FlattensEachItemInCOrder()
    {
        // Two 2x3 images; each becomes one row of 6.
        byte[] pixels = [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60];
        string path = Write("img.npy", Npy("|u1", false, [2, 2, 3], pixels));
        AssertArray(NpyReader.Read(path), "img.npy", 2, 6, "uint8", [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
    }

    [Test]
    public void Bool_NonZeroIsOne()
    {
        string path = Write("b.npy", Npy("|b1", false, [2, 2], [0, 1, 1, 0]));
        AssertArray(NpyReader.Read(path), "b.npy", 2, 2, "bool", [0, 1, 1, 0]);
    }

    [Test]
    public void Int64_Int32_AndTheOtherIntegerTypes()
    {
        AssertArray(NpyReader.Read(Write("i8.npy", Npy("<i8", false, [1, 3], Bytes(-3L, 0L, 1L << 40)))), "i8.npy", 1, 3, "int64", [-3, 0, 1L << 40]);
        AssertArray(NpyReader.Read(Write("i4.npy", Npy("<i4", false, [3], Bytes(-7, 0, 123456)))), "i4.npy", 3, 1, "int32", [-7, 0, 123456]);
        AssertArray(NpyReader.Read(Write("i1.npy", Npy("|i1", false, [2], Bytes((sbyte)-128, (sbyte)127)))), "i1.npy", 2, 1, "int8", [-128, 127]);
        AssertArray(NpyReader.Read(Write("i2.npy", Npy("<i2", false, [2], Bytes((short)-300, (short)300)))), "i2.npy", 2, 1, "int16", [-300, 300]);
        AssertArray(NpyReader.Read(Write("u2.npy", Npy("<u2", false, [1], Bytes((ushort)65535)))), "u2.npy", 1, 1, "uint16", [65535]);
        AssertArray(NpyReader.Read(Write("u4.npy", Npy("<u4", false, [1], Bytes(4_000_000_000u)))), "u4.npy", 1, 1, "uint32", [4_000_000_000f]);
        AssertArray(NpyReader.Read(Write("u8.npy", Npy("<u8", false, [1], Bytes(ulong.MaxValue)))), "u8.npy", 1, 1, "uint64", [ulong.MaxValue]);
        AssertArray(NpyReader.Read(Write("f2.npy", Npy("<f2", false, [2], Bytes((Half)0.5f, (Half)(-2f))))), "f2.npy", 2, 1, "float16", [0.5f, -2f]);
    }

    [Test]
    public void Float64_IsConvertedNotScaled()
    {
        string path = Write("d.npy", Npy("<f8", false, [1, 3], Bytes(0.1, 1e30, -255.0)));
        AssertArray(NpyReader.Read(path), "d.npy", 1, 3, "float64", [0.1f, 1e30f, -255f]);
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void FormatVersions_1_2_3(int version)
    {
        string path = Write($"v{version}.npy", Npy("<f4", false, [1, 2], Bytes(7f, 8f), version));
        AssertArray(NpyReader.Read(path), $"v{version}.npy", 1, 2, "float32", [7, 8]);
    }

    [Test]
    public void Header_KeysInAnyOrder_DoubleQuotes_Python2Longs_NoTrailingComma()
    {
        string dict = "{\"shape\": (2L, 1L), 'fortran_order': False, 'descr': \"<f4\"}";
        AssertArray(NpyReader.Read(Write("h.npy", Npy(dict, Bytes(1f, 2f)))), "h.npy", 2, 1, "float32", [1, 2]);
    }

    [Test]
    public void ZeroRows_IsEmpty()
    {
        AssertArray(NpyReader.Read(Write("z.npy", Npy("<f4", false, [0, 5], []))), "z.npy", 0, 5, "float32", []);
    }

    // ---- .npz ----

    [TestCase(CompressionLevel.NoCompression, 0)]
    [TestCase(CompressionLevel.Optimal, 8)]
    public void Npz_StoredOrDeflated_ReadsEveryMemberInOrder(CompressionLevel level, int method)
    {
        byte[] npz = Npz(level,
            ("train.npy", Npy("<f4", false, [2, 2], Bytes(1f, 2f, 3f, 4f))),
            ("labels.npy", Npy("|u1", false, [2], [7, 9])),
            ("big.npy", Npy("<f8", true, [300, 2], Bytes(Enumerable.Range(0, 600).Select(i => (double)i).ToArray()))));
        Assert.That(npz[8] | npz[9] << 8, Is.EqualTo(method), "the first member is stored (0) or deflated (8)");
        var arrays = NpyReader.ReadNpz(Write("d.npz", npz));

        Assert.That(arrays.Select(a => a.Name), Is.EqualTo(new[] { "train", "labels", "big" }));
        AssertArray(arrays[0], "train", 2, 2, "float32", [1, 2, 3, 4]);
        AssertArray(arrays[1], "labels", 2, 1, "uint8", [7, 9]);
        Assert.That((arrays[2].Rows, arrays[2].Cols), Is.EqualTo((300, 2)));
        Assert.That(arrays[2].Values[2 * 7 + 1], Is.EqualTo(300 + 7), "Fortran order: element (7, 1) was stored at 1 * 300 + 7");
    }

    [Test]
    public void Npz_Errors_NameTheMember()
    {
        string path = Write("bad.npz", Npz(CompressionLevel.Optimal,
            ("ok.npy", Npy("<f4", false, [1], Bytes(1f))),
            ("be.npy", Npy(">f4", false, [1], [0x3F, 0x80, 0, 0]))));
        ThrowsDataFormat(() => NpyReader.ReadNpz(path), path, "member 'be.npy': big-endian dtype '>f4' is not supported");

        string truncated = Write("short.npz", Npz(CompressionLevel.Optimal, ("t.npy", Npy("<f4", false, [4], Bytes(1f, 2f)))));
        ThrowsDataFormat(() => NpyReader.ReadNpz(truncated), truncated, "member 't.npy': truncated data: shape (4,) of float32 needs 16 bytes after the 128-byte header, got 8");

        string trailing = Write("long.npz", Npz(CompressionLevel.NoCompression, ("t.npy", [.. Npy("<f4", false, [1], Bytes(1f)), 0])));
        ThrowsDataFormat(() => NpyReader.ReadNpz(trailing), trailing, "member 't.npy': trailing garbage");
    }

    [Test]
    public void Npz_NotAZip_EmptyZip_AndMissingFile()
    {
        string notZip = Write("not.npz", Npy("<f4", false, [1], Bytes(1f)));
        ThrowsDataFormat(() => NpyReader.ReadNpz(notZip), notZip, "corrupt zip archive");
        string empty = Write("empty.npz", Npz(CompressionLevel.Optimal));
        ThrowsDataFormat(() => NpyReader.ReadNpz(empty), empty, "the archive holds no arrays");
        string missing = Path.Combine(Dir, "missing.npz");
        ThrowsDataFormat(() => NpyReader.ReadNpz(missing), missing, "file not found");
    }

    // ---- malformed .npy ----

    [Test]
    public void BigEndian_IsRejectedClearly()
    {
        string path = Write("be.npy", Npy(">f8", false, [1], new byte[8]));
        ThrowsDataFormat(() => NpyReader.Read(path), path, "big-endian dtype '>f8' is not supported: save a little-endian copy, e.g. a.astype('<f8')");
        // One-byte types have no byte order: '>u1' is the same as '|u1'.
        Assert.That(NpyReader.Read(Write("be1.npy", Npy(">u1", false, [1], [5]))).Values, Is.EqualTo(new[] { 5f }));
    }

    [Test]
    public void FortranOrder3D_IsRejected()
    {
        string path = Write("f3.npy", Npy("|u1", true, [2, 2, 2], new byte[8]));
        ThrowsDataFormat(() => NpyReader.Read(path), path, "shape (2, 2, 2) in Fortran order: 3-D arrays must be in C order");
    }

    [TestCase("<c8", "unsupported dtype '<c8'")]
    [TestCase("|O", "unsupported dtype '|O'")]
    [TestCase("<U3", "unsupported dtype '<U3'")]
    [TestCase("|f4", "dtype '|f4' does not state a byte order")]
    public void UnsupportedDtypes_AreRejected(string descr, string phrase)
    {
        string path = Write("t.npy", Npy(descr, false, [1], new byte[8]));
        ThrowsDataFormat(() => NpyReader.Read(path), path, phrase);
    }

    [TestCase("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "structured dtypes")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, }", "has no 'shape'")]
    [TestCase("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", "'fortran_order' in header")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 'a'), }", "'shape' in header")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "keys other than")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ", "malformed header")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "scalar")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1)}", "4 dimensions")]
    public void MalformedHeaders_AreRejected(string dict, string phrase)
    {
        string path = Write("h.npy", Npy(dict, new byte[4]));
        ThrowsDataFormat(() => NpyReader.Read(path), path, phrase);
    }

    [Test]
    public void BadMagic_Version_Truncation_TrailingGarbage()
    {
        byte[] good = Npy("<f4", false, [2], Bytes(1f, 2f));
        string magic = Write("magic.npy", [.. "PK"u8, .. good[2..]]);
        ThrowsDataFormat(() => NpyReader.Read(magic), magic, "not an .npy file");
        byte[] v9 = (byte[])good.Clone();
        v9[6] = 9;
        string version = Write("v9.npy", v9);
        ThrowsDataFormat(() => NpyReader.Read(version), version, "unsupported .npy format version 9.0");
        string empty = Write("empty.npy", []);
        ThrowsDataFormat(() => NpyReader.Read(empty), empty, "empty file");
        string shortHeader = Write("short-header.npy", good[..40]);
        ThrowsDataFormat(() => NpyReader.Read(shortHeader), shortHeader, "truncated header: it declares 118 bytes, the file holds 30 after the 10-byte prefix");
        string shortData = Write("short-data.npy", good[..^1]);
        ThrowsDataFormat(() => NpyReader.Read(shortData), shortData, "truncated data: shape (2,) of float32 needs 8 bytes after the 128-byte header, the file holds 7");
        string trailing = Write("trailing.npy", [.. good, 1, 2]);
        ThrowsDataFormat(() => NpyReader.Read(trailing), trailing, "trailing garbage: 2 bytes after the 8 bytes of data");
        string missing = Path.Combine(Dir, "missing.npy");
        ThrowsDataFormat(() => NpyReader.Read(missing), missing, "file not found");
    }

    [Test]
    public void HugeHeaders_ThrowWithoutAllocating()
    {
        byte[] longHeader = Npy("<f4", false, [1], Bytes(1f), version: 2);
        longHeader[8] = 0; longHeader[9] = 0; longHeader[10] = 0; longHeader[11] = 0x40; // 1 GiB header
        string headerPath = Write("long-header.npy", longHeader);
        string tooMany = Write("too-many.npy", Npy("<f4", false, [100_000, 100_000], []));
        string tooWide = Write("too-wide.npy", Npy("|u1", false, [0, 3_000_000_000], []));
        string tooWide3 = Write("too-wide3.npy", Npy("|u1", false, [0, 100_000, 100_000], []));
        string lying = Write("lying.npy", Npy("<f8", false, [2_000_000_000], Bytes(1.0)));
        string lyingNpz = Write("lying.npz", Npz(CompressionLevel.Optimal, ("x.npy", Npy("<f8", false, [2_000_000_000], Bytes(1.0)))));

        long before = GC.GetAllocatedBytesForCurrentThread();
        ThrowsDataFormat(() => NpyReader.Read(headerPath), headerPath, "header length 1073741824 is more than the limit");
        ThrowsDataFormat(() => NpyReader.Read(tooMany), tooMany, "more than the largest possible array");
        ThrowsDataFormat(() => NpyReader.Read(tooWide), tooWide, "dimension 3000000000 is more than the limit");
        ThrowsDataFormat(() => NpyReader.Read(tooWide3), tooWide3, "10000000000 values per item is more than the limit");
        ThrowsDataFormat(() => NpyReader.Read(lying), lying, "truncated data: shape (2000000000,) of float64 needs 16000000000 bytes");
        ThrowsDataFormat(() => NpyReader.ReadNpz(lyingNpz), lyingNpz, "got 8");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.LessThan(8L << 20), "a lying header must not cost a header-sized allocation");
    }
}
