using Iwae.Datasets;
using static Iwae.Tests.Datasets.NpyReaderTests;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

public class MatReaderTests : TempDirTests
{
    // MATLAB's [1 2 3; 4 5 6], as a double matrix stored as doubles.
    private static byte[] OneToSix(string name = "data") => Matrix(name, MxDouble, [2, 3], MiDouble, Bytes(1.0, 4.0, 2.0, 5.0, 3.0, 6.0));

    private static void AssertArray(DataArray a, string name, int rows, int cols, string dtype, float[] values)
    {
        Assert.That((a.Name, a.Rows, a.Cols, a.DType), Is.EqualTo((name, rows, cols, dtype)));
        Assert.That(a.Values, Is.EqualTo(values).AsCollection);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Double_ColumnMajorBecomesRowMajor(bool compressed)
    {
        byte[] m = OneToSix();
        var arrays = MatReader.Read(Write("m.mat", Mat(compressed ? Compressed(m) : m)));
        Assert.That(arrays, Has.Count.EqualTo(1));
        AssertArray(arrays[0], "data", 2, 3, "float64", [1, 2, 3, 4, 5, 6]);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void KnownMatrix_RowsAndColsAreMatlabs(bool compressed)
    {
        // A 5 x 7 matrix whose (i, j) is 10 i + j: like chardata.mat's 784 x N 'data', Rows is MATLAB's first dimension.
        const int rows = 5, cols = 7;
        var rowMajor = new double[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) rowMajor[i * cols + j] = 10 * i + j;
        byte[] m = Matrix("data", MxDouble, [rows, cols], MiDouble, Bytes(ColumnMajor(rowMajor, rows, cols)));
        DataArray a = MatReader.Read(Write("k.mat", Mat(compressed ? Compressed(m) : m)))[0];
        Assert.That((a.Rows, a.Cols), Is.EqualTo((rows, cols)));
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) Assert.That(a.Values[i * cols + j], Is.EqualTo(10 * i + j), $"({i}, {j})");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void DoubleStoredAsUint8_IsDouble(bool compressed)
    {
        // MATLAB writes a double matrix of small non-negative integers (a binarized image) as miUINT8.
        byte[] m = Matrix("target", MxDouble, [2, 2], MiUInt8, [0, 1, 255, 3]);
        var a = MatReader.Read(Write("u.mat", Mat(compressed ? Compressed(m) : m)))[0];
        AssertArray(a, "target", 2, 2, "float64", [0, 255, 1, 3]);
    }

    [Test]
    public void Single_AndIntegerClasses_StoredInTheirOwnOrSmallerTypes()
    {
        var arrays = MatReader.Read(Write("t.mat", Mat(
            Matrix("s", MxSingle, [1, 3], MiSingle, Bytes(0.5f, -1f, 3.25f)),
            Matrix("u8", MxUInt8, [3, 1], MiUInt8, [1, 2, 250]),
            Matrix("i8", MxInt8, [1, 2], MiInt8, [0x80, 0x7F]),
            Matrix("i16", MxInt16, [1, 2], MiInt16, Bytes((short)-1000, (short)7)),
            Matrix("u16", MxUInt16, [1, 1], MiUInt16, Bytes((ushort)60000)),
            Matrix("i32", MxInt32, [1, 2], MiInt8, [0xFF, 5]),
            Matrix("u32", MxUInt32, [1, 1], MiUInt32, Bytes(4_000_000_000u)),
            Matrix("neg", MxDouble, [1, 2], MiInt16, Bytes((short)-2, (short)300)))));
        Assert.That(arrays.Select(a => a.Name), Is.EqualTo(new[] { "s", "u8", "i8", "i16", "u16", "i32", "u32", "neg" }));
        AssertArray(arrays[0], "s", 1, 3, "float32", [0.5f, -1f, 3.25f]);
        AssertArray(arrays[1], "u8", 3, 1, "uint8", [1, 2, 250]);
        AssertArray(arrays[2], "i8", 1, 2, "int8", [-128, 127]);
        AssertArray(arrays[3], "i16", 1, 2, "int16", [-1000, 7]);
        AssertArray(arrays[4], "u16", 1, 1, "uint16", [60000]);
        AssertArray(arrays[5], "i32", 1, 2, "int32", [-1, 5]);
        AssertArray(arrays[6], "u32", 1, 1, "uint32", [4_000_000_000f]);
        AssertArray(arrays[7], "neg", 1, 2, "float64", [-2, 300]);
    }

    [Test]
    public void Logical_IsBool()
    {
        var a = MatReader.Read(Write("l.mat", Mat(Matrix("mask", MxUInt8, [2, 1], MiUInt8, [1, 0], flags: Logical))))[0];
        AssertArray(a, "mask", 2, 1, "bool", [1, 0]);
    }

    [Test]
    public void SmallDataElements_ForNameAndData()
    {
        // 'x' (a small name) = 7 stored as one miUINT8 byte, and 'yy' = [-1 2] as two miINT16 in a small element.
        var arrays = MatReader.Read(Write("s.mat", Mat(
            Matrix("x", MxDouble, [1, 1], MiUInt8, [7], smallData: true),
            Compressed(Matrix("yy", MxDouble, [1, 2], MiInt16, Bytes((short)-1, (short)2), smallData: true)),
            Matrix("a_long_name", MxDouble, [1, 1], MiDouble, Bytes(2.5)))));
        AssertArray(arrays[0], "x", 1, 1, "float64", [7]);
        AssertArray(arrays[1], "yy", 1, 2, "float64", [-1, 2]);
        AssertArray(arrays[2], "a_long_name", 1, 1, "float64", [2.5f]);
    }

    [Test]
    public void SkipsCharCellStructSparseComplexAndNdVariables_CompressedOrNot()
    {
        byte[] cell = CellMatrix("langs", CharMatrix("", "Latin"), OneToSix(""));
        var arrays = MatReader.Read(Write("mixed.mat", Mat(
            CharMatrix("name", "chardata"),
            OneToSix("data"),
            Compressed(cell),
            cell,
            StructMatrix("st", "f", 1.0),
            Compressed(CharMatrix("c2", "x")),
            Matrix("sp", MxSparse, [2, 2], MiDouble, Bytes(1.0)),
            Matrix("z", MxDouble, [1, 2], MiDouble, Bytes(1.0, 2.0), flags: Complex, extra: Element(MiDouble, Bytes(3.0, 4.0))),
            Matrix("nd", MxDouble, [1, 2, 2], MiDouble, Bytes(1.0, 2.0, 3.0, 4.0)),
            Element(MiMatrix, []),
            Element(MiUtf8, "stray"u8.ToArray()),
            Compressed(OneToSix("test")))));
        Assert.That(arrays.Select(a => a.Name), Is.EqualTo(new[] { "data", "test" }));
        AssertArray(arrays[1], "test", 2, 3, "float64", [1, 2, 3, 4, 5, 6]);
    }

    [Test]
    public void EmptyMatrix_AndFileWithoutVariables()
    {
        var arrays = MatReader.Read(Write("e.mat", Mat(Matrix("e", MxDouble, [0, 0], MiDouble, []))));
        AssertArray(arrays[0], "e", 0, 0, "float64", []);
        Assert.That(MatReader.Read(Write("none.mat", Mat())), Is.Empty);
    }

    [Test]
    public void SubsystemData_IsSkipped()
    {
        byte[] subsystem = Matrix("", MxUInt8, [1, 8], MiUInt8, new byte[8]);
        byte[] file = [.. MatHeader(subsystem: 128 + (ulong)OneToSix().Length), .. OneToSix(), .. subsystem];
        Assert.That(MatReader.Read(Write("sub.mat", file)).Select(a => a.Name), Is.EqualTo(new[] { "data" }));
    }

    // ---- malformed ----

    [Test]
    public void BigEndian_Hdf5_AndOtherFiles_AreRejectedClearly()
    {
        string be = Write("be.mat", [.. MatHeader(endian: "MI"), .. OneToSix()]);
        ThrowsDataFormat(() => MatReader.Read(be), be, "big-endian MAT-file (endian indicator 'MI') is not supported");
        string v73 = Write("v73.mat", MatHeader(text: "MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00"));
        ThrowsDataFormat(() => MatReader.Read(v73), v73, "MATLAB 7.3 MAT-files are HDF5 files and are not supported");
        string level4 = Write("v4.mat", [0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
        ThrowsDataFormat(() => MatReader.Read(level4), level4, "not a level 5 MAT-file");
        string badEndian = Write("xx.mat", MatHeader(endian: "XX"));
        ThrowsDataFormat(() => MatReader.Read(badEndian), badEndian, "bad endian indicator 0x5858 at byte 126");
        string shortHeader = Write("short.mat", MatHeader()[..100]);
        ThrowsDataFormat(() => MatReader.Read(shortHeader), shortHeader, "truncated header: 100 bytes of 128");
        string empty = Write("empty.mat", []);
        ThrowsDataFormat(() => MatReader.Read(empty), empty, "empty file");
        string missing = Path.Combine(Dir, "missing.mat");
        ThrowsDataFormat(() => MatReader.Read(missing), missing, "file not found");
    }

    [Test]
    public void Truncation_SizeMismatch_AndCorruptZlib_AreRejected()
    {
        byte[] good = Mat(OneToSix());
        string cut = Write("cut.mat", good[..^10]);
        ThrowsDataFormat(() => MatReader.Read(cut), cut, "data element at byte 128 declares");
        string tail = Write("tail.mat", [.. good, 1, 2, 3]);
        ThrowsDataFormat(() => MatReader.Read(tail), tail, "truncated data element at byte");

        string mismatch = Write("mismatch.mat", Mat(Matrix("m", MxDouble, [2, 3], MiDouble, Bytes(1.0, 2.0))));
        ThrowsDataFormat(() => MatReader.Read(mismatch), mismatch, "variable 'm': real part holds 16 bytes, a 2 x 3 matrix stored as float64 needs 48");
        string badType = Write("badtype.mat", Mat(Matrix("m", MxDouble, [1, 1], MiUtf8, [1, 2, 3, 4, 5, 6, 7, 8])));
        ThrowsDataFormat(() => MatReader.Read(badType), badType, "variable 'm': real part: unsupported data type 16");

        byte[] z = Compressed(OneToSix());
        byte[] cutZ = [.. z[..4], .. Bytes((uint)(z.Length - 8 - 12)), .. z[8..^12]];
        string truncatedZ = Write("cut-z.mat", Mat(cutZ));
        ThrowsDataFormat(() => MatReader.Read(truncatedZ), truncatedZ, "variable 'data': truncated data: the real part needs 48 bytes, got");
        byte[] garbage = [.. Bytes(MiCompressed, 8u), 0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        string corruptZ = Write("corrupt-z.mat", Mat(garbage));
        ThrowsDataFormat(() => MatReader.Read(corruptZ), corruptZ, "compressed data element at byte 128");
    }

    [Test]
    public void HugeDimensions_ThrowWithoutAllocating()
    {
        // Dimensions and sizes that disagree, or that exceed the caps, are refused before the values are allocated.
        string lying = Write("lying.mat", Mat(Compressed(Matrix("big", MxDouble, [40_000, 20_000], MiUInt8, new byte[64]))));
        string tooMany = Write("too-many.mat", Mat(Matrix("big", MxDouble, [100_000, 100_000], MiUInt8, [1])));
        string longName = Write("long-name.mat", Mat(Matrix(new string('n', 5000), MxDouble, [1, 1], MiUInt8, [1])));
        string manyDims = Write("dims.mat", Mat(Matrix("d", MxDouble, Enumerable.Repeat(1, 100).ToArray(), MiUInt8, [1])));

        long before = GC.GetAllocatedBytesForCurrentThread();
        ThrowsDataFormat(() => MatReader.Read(lying), lying, "variable 'big': real part holds 64 bytes, a 40000 x 20000 matrix stored as uint8 needs 800000000");
        ThrowsDataFormat(() => MatReader.Read(tooMany), tooMany, "100000 x 100000 = 10000000000 elements, more than the largest possible array");
        ThrowsDataFormat(() => MatReader.Read(longName), longName, "sub-element of 5000 bytes is more than the limit of 4096");
        ThrowsDataFormat(() => MatReader.Read(manyDims), manyDims, "sub-element of 400 bytes is more than the limit of 256");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.LessThan(8L << 20), "a lying header must not cost a header-sized allocation");
    }

    [Test]
    public void LyingCompressedData_GrowsOnlyAsDataArrives()
    {
        // The real part's tag claims 800 MB of doubles matching the dimensions, but only 16 bytes follow.
        byte[] body = [
            .. Element(MiUInt32, [.. Bytes((uint)MxDouble), .. Bytes(0u)]),
            .. Element(MiInt32, Bytes(10_000, 10_000)),
            .. SmallElement(MiInt8, "big"u8.ToArray()),
            .. Bytes(MiDouble, 800_000_000u), .. Bytes(1.0, 2.0)];
        byte[] matrix = [.. Bytes(MiMatrix, 0xFFFF_FFF0u), .. body];
        string path = Write("lying-z.mat", Mat(Compressed(matrix)));

        long before = GC.GetAllocatedBytesForCurrentThread();
        ThrowsDataFormat(() => MatReader.Read(path), path, "variable 'big': truncated data: the real part needs 800000000 bytes, got 16");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(8L << 20));
    }
}
