using System.IO.Compression;
using Iwae.Autodiff;
using Iwae.Datasets;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

/// <summary>
/// <see cref="DataSource"/>: files with their own splits keep them (.npz by array name, .mat in Omniglot's layout of
/// one column-major image per column), bytes become byte / 255, one-hot labels become class numbers, and what is not
/// data says so in one line.
/// </summary>
public class DataSourceTests : TempDirTests
{
    [Test]
    public void Npz_WithTrainAndTestArrays_KeepsItsSplits_ScalesBytes_AndReadsLabels()
    {
        // 3 training and 2 test images of 2x2 bytes; image i's pixels are 10*i + (0, 1, 2, 3).
        byte[] Images(int n, int first) => [.. Enumerable.Range(0, n * 4).Select(p => (byte)(10 * (first + p / 4) + p % 4))];
        string path = Path.Combine(Dir, "set.npz");
        File.WriteAllBytes(path, Npz(CompressionLevel.Optimal,
            ("x_train", Npy("|u1", false, [3, 2, 2], Images(3, 0))),
            ("x_test", Npy("|u1", false, [2, 2, 2], Images(2, 3))),
            ("y_train", Npy("<i8", false, [3], Bytes(7L, 8L, 9L))),
            ("y_test", Npy("<i8", false, [2], Bytes(1L, 2L)))));
        var (train, test) = DataSource.Load(path);
        Assert.That((train.Count, test.Count, train.Rows, train.Cols), Is.EqualTo((3, 2, 2, 2)), "2x2 images, the file's own split");
        Assert.That(train.Images.Row(1).ToArray(), Is.EqualTo(new[] { 10 / 255f, 11 / 255f, 12 / 255f, 13 / 255f }));
        Assert.That(test.Images.Row(0)[0], Is.EqualTo(30 / 255f));
        Assert.That(train.Labels, Is.EqualTo(new byte[] { 7, 8, 9 }));
        Assert.That(test.Labels, Is.EqualTo(new byte[] { 1, 2 }));
    }

    [Test]
    public void Mat_InOmniglotsLayout_TurnsColumnMajorImageColumnsIntoRowMajorRows_AndOneHotTargetsIntoLabels()
    {
        // Image e (2x2) has pixel (row r, col c) = e + 0.1 r + 0.01 c. MATLAB stores it column-major, one image per column.
        double Pixel(int e, int r, int c) => e + 0.1 * r + 0.01 * c;
        double[] Columns(int n, int first)
        {
            var m = new double[4 * n];      // [4 pixels, n images], column-major: element (p, e) at e * 4 + p
            for (int e = 0; e < n; e++)
                for (int r = 0; r < 2; r++)
                    for (int c = 0; c < 2; c++) m[e * 4 + c * 2 + r] = Pixel(first + e, r, c) / 10;
            return m;
        }
        double[] OneHot(params int[] classes)
        {
            var m = new double[3 * classes.Length];   // [3 classes, n], column-major
            for (int e = 0; e < classes.Length; e++) m[e * 3 + classes[e]] = 1;
            return m;
        }
        string path = Path.Combine(Dir, "chardata.mat");
        File.WriteAllBytes(path, Mat(
            Compressed(Matrix("data", MxDouble, [4, 3], MiDouble, Bytes(Columns(3, 0)))),
            Matrix("testdata", MxDouble, [4, 2], MiDouble, Bytes(Columns(2, 3))),
            Compressed(Matrix("target", MxDouble, [3, 3], MiDouble, Bytes(OneHot(2, 0, 1)))),
            Matrix("testtarget", MxDouble, [3, 2], MiDouble, Bytes(OneHot(1, 1)))));
        var (train, test) = DataSource.Load(path);
        Assert.That((train.Count, test.Count, train.Rows, train.Cols), Is.EqualTo((3, 2, 2, 2)));
        for (int e = 0; e < 3; e++)
            Assert.That(train.Images.Row(e).ToArray(), Is.EqualTo(new[]
            {
                (float)(Pixel(e, 0, 0) / 10), (float)(Pixel(e, 0, 1) / 10), (float)(Pixel(e, 1, 0) / 10), (float)(Pixel(e, 1, 1) / 10),
            }).Within(1e-6), $"image {e} row-major");
        Assert.That(test.Images.Row(1)[1], Is.EqualTo((float)(Pixel(4, 0, 1) / 10)).Within(1e-6));
        Assert.That(train.Labels, Is.EqualTo(new byte[] { 2, 0, 1 }));
        Assert.That(test.Labels, Is.EqualTo(new byte[] { 1, 1 }));
    }

    [Test]
    public void ASingleArray_IsSplitBySeed_AndAFolderOfAFetchedSetIsRecognised()
    {
        string npy = Path.Combine(Dir, "x.npy");
        File.WriteAllBytes(npy, Npy("<f8", true, [40, 3], Bytes(Enumerable.Range(0, 120).Select(i => (double)i).ToArray())));
        var (train, test) = DataSource.Load(npy, testFraction: 0.2);
        Assert.That((train.Count, test.Count, train.PixelsPerImage, train.IsImage, train.HasLabels), Is.EqualTo((32, 8, 3, false, false)));
        // Fortran order: column j holds 40*j .. 40*j + 39, so example r is (r, 40 + r, 80 + r).
        var all = train.Images.Span.ToArray().Concat(test.Images.Span.ToArray()).Chunk(3).Select(x => x[1] - x[0]).Distinct();
        Assert.That(all, Is.EqualTo(new[] { 40f }));

        // binarized-mnist's folder: three .amat files, the validation split unused.
        string folder = Path.Combine(Dir, "binarized-mnist");
        Directory.CreateDirectory(folder);
        string Line(int i) => string.Join(" ", Enumerable.Range(0, 784).Select(p => (p + i) % 3 == 0 ? "1" : "0"));
        File.WriteAllLines(Path.Combine(folder, "binarized_mnist_train.amat"), Enumerable.Range(0, 5).Select(Line));
        File.WriteAllLines(Path.Combine(folder, "binarized_mnist_valid.amat"), Enumerable.Range(0, 2).Select(Line));
        File.WriteAllLines(Path.Combine(folder, "binarized_mnist_test.amat"), Enumerable.Range(0, 3).Select(Line));
        var (btrain, btest) = DataSource.Load(folder);
        Assert.That((btrain.Count, btest.Count, btrain.Rows, btrain.Cols), Is.EqualTo((5, 3, 28, 28)));
        Assert.That(btest.Images.Row(2)[1], Is.EqualTo(1f), "(1 + 2) % 3 == 0");
    }

    [Test]
    public void WhatIsNotData_SaysSoInOneLine()
    {
        string npz = Path.Combine(Dir, "two.npz");
        File.WriteAllBytes(npz, Npz(CompressionLevel.NoCompression, ("a", Npy("<f4", false, [2, 2], Bytes(1f, 2f, 3f, 4f))), ("b", Npy("<f4", false, [1, 2], Bytes(1f, 2f)))));
        Assert.That(() => DataSource.Load(npz), Throws.InstanceOf<DataFormatException>().With.Message.Contains("two.npz: holds a [2x2], b [1x2]: name the splits train and test"));
        string txt = Path.Combine(Dir, "notes.txt");
        File.WriteAllText(txt, "hello");
        Assert.That(() => DataSource.Load(txt), Throws.InstanceOf<DataFormatException>().With.Message.Contains("notes.txt: not a data file this reads"));
        string one = Path.Combine(Dir, "one.csv");
        File.WriteAllText(one, "0.5,0.5\n");
        Assert.That(() => DataSource.Load(one), Throws.InstanceOf<DataFormatException>().With.Message.Contains("1 example: too few"));
        Assert.That(() => DataSource.Load(one, testFraction: 1.5), Throws.InstanceOf<SettingException>().With.Message.EqualTo("test_fraction must lie strictly between 0 and 1, got 1.5"));
    }
}
