using System.Globalization;
using System.IO.Compression;
using System.Text;
using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Datasets;
using Iwae.Experiments;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

/// <summary>
/// Each example remembers where it came from (<see cref="Dataset.Origin"/>) through the seeded split, and messages
/// name a value by its file's line or row and column as a person counts them (from 1), with the array or variable
/// where the format has names; 1-D arrays and MAT variables of other kinds are refused, never reshaped or dropped.
/// </summary>
public class DataOriginTests : TempDirTests
{
    private static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A CSV with a header and a blank line whose example on line L holds L / 1000 in every column.</summary>
    private string LinesCsv(int examples, int cols, int badLine = -1, int badCol = -1)
    {
        var text = new StringBuilder(string.Join(",", Enumerable.Range(0, cols).Select(c => $"c{c}")) + "\n\n");
        for (int line = 3; line < 3 + examples; line++)
            text.Append(string.Join(",", Enumerable.Range(1, cols).Select(c => line == badLine && c == badCol ? "1.5" : Num(line / 1000.0)))).Append('\n');
        return Write("lines.csv", Encoding.UTF8.GetBytes(text.ToString()));
    }

    [Test]
    public void Csv_EachExampleKeepsItsLine_ThroughTheSeededSplit()
    {
        var (train, test) = DataSource.Load(LinesCsv(40, 3), testFraction: 0.25);

        Assert.That(train.Origin.Numbering, Is.EqualTo(RowNumbering.Line));
        foreach (var d in new[] { train, test })
            for (int i = 0; i < d.Count; i++)
                Assert.That(d.Origin.Rows[i], Is.EqualTo((int)Math.Round(d.Images.Row(i)[0] * 1000)), $"example {i}: its line");
        Assert.That(train.Origin.Rows.Concat(test.Origin.Rows).Order(), Is.EqualTo(Enumerable.Range(3, 40)),
            "every line once: the header is line 1, a blank line 2");
        Assert.That(test.Origin.Rows, Is.Ordered, "the split keeps the file's order");
    }

    [Test]
    public void OutOfRange_Csv_NamesTheLineInTheFile_HeaderIncluded_AndTheColumn()
    {
        string path = LinesCsv(40, 3, badLine: 29, badCol: 2);
        var e = Assert.Throws<DataFormatException>(() => Runs.LoadData(new RunSettings { Data = path }))!;
        Assert.That(e.Message, Does.StartWith($"{path}: line 29, column 2: value 1.5 is outside [0, 1]"));
    }

    [Test]
    public void OutOfRange_Npy_NamesRowAndColumnFromOne()
    {
        var values = Enumerable.Range(0, 30 * 4).Select(i => 0.25f).ToArray();
        values[17 * 4 + 3] = -2f;     // a[17, 3] in numpy
        string path = Write("x.npy", Npy("<f4", false, [30, 4], Bytes(values)));
        var e = Assert.Throws<DataFormatException>(() => Runs.LoadData(new RunSettings { Data = path }))!;
        Assert.That(e.Message, Does.StartWith($"{path}: row 18, column 4: value -2 is outside [0, 1]"));
    }

    [Test]
    public void OutOfRange_Npz_NamesTheArray()
    {
        var test = Enumerable.Range(0, 5 * 2).Select(i => 0.5f).ToArray();
        test[3 * 2 + 0] = 7f;
        string path = Write("s.npz", Npz(CompressionLevel.Optimal,
            ("x_train", Npy("<f4", false, [6, 2], Bytes(Enumerable.Repeat(0.5f, 12).ToArray()))),
            ("x_test", Npy("<f4", false, [5, 2], Bytes(test)))));
        var e = Assert.Throws<DataFormatException>(() => Runs.LoadData(new RunSettings { Data = path }))!;
        Assert.That(e.Message, Does.StartWith($"{path}: array 'x_test', row 4, column 1: value 7 is outside [0, 1]"));
    }

    [Test]
    public void OutOfRange_Mat_NamesTheVariableAndMatlabsRowAndColumn()
    {
        // 'data' is [4 pixels, 3 images], MATLAB's layout; data(3, 2) = 9 (pixel 3 of image 2, column-major in a 2x2 image).
        double[] train = Enumerable.Repeat(0.5, 12).ToArray();
        train[(2 - 1) * 4 + (3 - 1)] = 9;
        string path = Write("c.mat", Mat(
            Matrix("data", MxDouble, [4, 3], MiDouble, Bytes(train)),
            Matrix("testdata", MxDouble, [4, 2], MiDouble, Bytes(Enumerable.Repeat(0.5, 8).ToArray()))));
        var e = Assert.Throws<DataFormatException>(() => Runs.LoadData(new RunSettings { Data = path }))!;
        Assert.That(e.Message, Does.StartWith($"{path}: variable 'data', row 3, column 2: value 9 is outside [0, 1]"));
    }

    [Test]
    public void NotFinite_Npy_NamesRowAndColumnFromOne()
    {
        var values = Enumerable.Repeat(0.5f, 12).ToArray();
        values[2 * 3 + 1] = float.NaN;
        string path = Write("n.npy", Npy("<f4", false, [4, 3], Bytes(values)));
        Assert.That(() => DataSource.Load(path), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo($"{path}: row 3, column 2: value NaN is not finite"));
    }

    [Test]
    public void Origins_ForEachFormat_CountAsItsUsersDo()
    {
        var x = Tensor<float>.Zeros(3, 2);
        var memory = Dataset.Vectors(x);
        Assert.That((memory.Origin.Numbering, memory.Origin.Locate(2, 1)), Is.EqualTo((RowNumbering.Example, "example 3, column 2")));
        var picked = memory.Select([2, 0]);
        Assert.That(picked.Origin.Rows, Is.EqualTo(new[] { 3, 1 }), "a selection keeps each example's number");

        var images = new IdxImages(new byte[12], 3, 2, 2).ToDataset(new byte[3]);
        Assert.That(images.Origin.Locate(1, 3), Is.EqualTo("image 2, pixel 4"));
        var mat = DataOrigin.Counted(RowNumbering.Column, 5, "data", columnMajorSide: 28);
        Assert.That(mat.Locate(4, 28 * 2 + 5), Is.EqualTo("variable 'data', row 143, column 5"), "row 2, col 5 of the image: MATLAB row 5*28 + 2 + 1");
        Assert.That(() => new Dataset(x, [], 1, 2, "", DataOrigin.InMemory(2)), Throws.ArgumentException);
    }

    // ---- 1-D arrays ----

    private const string Hint = "Expected 2D array, got 1D array instead: reshape your data either using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it contains a single sample.";

    [Test]
    public void OneDimensionalNpy_IsRefused_WithTheReshapeHint()
    {
        string path = Write("v.npy", Npy("<f8", false, [50], Bytes(Enumerable.Repeat(0.5, 50).ToArray())));
        Assert.That(() => DataSource.Load(path), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo($"{path}: the array has shape (50,): {Hint}"));
        Assert.That(NpyReader.Read(path).Rank, Is.EqualTo(1), "the reader still reads it (labels are 1-D)");
        string column = Write("c.npy", Npy("<f8", false, [50, 1], Bytes(Enumerable.Repeat(0.5, 50).ToArray())));
        Assert.That(DataSource.Load(column).Train.PixelsPerImage, Is.EqualTo(1), "(N, 1), reshaped on purpose, is data");
    }

    [Test]
    public void OneDimensionalNpzExamples_AreRefused_NamingTheArray_LabelsStay1D()
    {
        string only = Write("only.npz", Npz(CompressionLevel.NoCompression, ("x", Npy("<f4", false, [20], Bytes(new float[20])))));
        Assert.That(() => DataSource.Load(only), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo($"{only}: array 'x' has shape (20,): {Hint}"));
        string split = Write("split.npz", Npz(CompressionLevel.NoCompression,
            ("x_train", Npy("<f4", false, [6, 2], Bytes(new float[12]))),
            ("x_test", Npy("<f4", false, [4], Bytes(new float[4])))));
        Assert.That(() => DataSource.Load(split), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo($"{split}: array 'x_test' has shape (4,): {Hint}"));
    }

    [Test]
    public void MatRowVector_AsScipySavesA1DArray_IsRefused()
    {
        string path = Write("v.mat", Mat(Matrix("x", MxDouble, [1, 30], MiDouble, Bytes(new double[30]))));
        Assert.That(() => DataSource.Load(path), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo(
            $"{path}: variable 'x' is 1x30, a row vector (scipy.io.savemat saves a 1-D array so): {Hint}"));
    }

    // ---- MAT variables iwae does not read ----

    [Test]
    public void MatTestSplitOfAnUnsupportedKind_IsRefused_NotReplacedByASplitOfTrain()
    {
        string complex = Write("cx.mat", Mat(
            Matrix("train", MxDouble, [4, 10], MiDouble, Bytes(Enumerable.Repeat(0.5, 40).ToArray())),
            Matrix("test", MxDouble, [4, 2], MiDouble, Bytes(new double[8]), flags: Complex, extra: Element(MiDouble, Bytes(new double[8])))));
        Assert.That(() => DataSource.Load(complex), Throws.InstanceOf<DataFormatException>().With.Message.StartWith(
            $"{complex}: variable 'test' is a complex double matrix (4x2), which iwae does not read: keep only real 2-D numeric matrices"));

        string cube = Write("cube.mat", Mat(Matrix("train", MxSingle, [2, 2, 3], MiSingle, Bytes(new float[12]))));
        Assert.That(() => DataSource.Load(cube), Throws.InstanceOf<DataFormatException>().With.Message.StartWith(
            $"{cube}: variable 'train' is a 3-D single array (2x2x3), which iwae does not read"));

        string several = Write("several.mat", Mat(
            Matrix("data", MxDouble, [4, 10], MiDouble, Bytes(Enumerable.Repeat(0.5, 40).ToArray())),
            CharMatrix("note", "hello"), CellMatrix("c", OneByOne()), StructMatrix("s", "f", 1.0)));
        Assert.That(() => DataSource.Load(several), Throws.InstanceOf<DataFormatException>().With.Message.StartWith(
            $"{several}: variables 'note' (a char array (1x5)), 'c' (a cell array (1x1)), 's' (a struct (1x1)) are of kinds iwae does not read"));
    }

    [Test]
    public void MatWithoutVariables_SaysSo()
    {
        string path = Write("none.mat", Mat());
        Assert.That(() => DataSource.Load(path), Throws.InstanceOf<DataFormatException>().With.Message.EqualTo($"{path}: holds no variables: nothing to train on"));
    }

    [Test]
    public void MatReader_NamesWhatItDoesNotRead_WithItsKind()
    {
        string path = Write("mixed.mat", Mat(
            Matrix("data", MxDouble, [2, 3], MiDouble, Bytes(new double[6])),
            Compressed(Matrix("sp", MxSparse, [2, 2], MiDouble, Bytes(1.0))),
            Matrix("nd", MxUInt8, [1, 2, 2], MiUInt8, new byte[4]),
            Matrix("lz", MxUInt8, [1, 2], MiUInt8, [1, 0], flags: Logical | Complex)));
        var mat = MatReader.ReadFile(path);
        Assert.That(mat.Arrays.Select(a => a.Name), Is.EqualTo(new[] { "data" }));
        Assert.That(mat.Unsupported, Is.EqualTo(new[]
        {
            new MatVariable("sp", "sparse matrix (2x2)"),
            new MatVariable("nd", "3-D uint8 array (1x2x2)"),
            new MatVariable("lz", "complex logical matrix (1x2)"),
        }));
    }

    private static byte[] OneByOne() => Matrix("", MxDouble, [1, 1], MiDouble, Bytes(1.0));
}
