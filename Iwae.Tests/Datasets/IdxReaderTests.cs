using System.Buffers.Binary;
using System.IO.Compression;
using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Datasets;

namespace Iwae.Tests.Datasets;

public class IdxReaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "iwae-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // The embedded subset, loaded once for all tests that need it.
    private static readonly Lazy<(Dataset Train, Dataset Test)> Subset = new(() => Mnist.Load(Mnist.DefaultFolder()));

    // ---- helpers: IDX bytes written by the test itself ----

    private static byte[] Idx(uint magic, uint[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static byte[] ImagesIdx(int count, int rows, int cols, byte[] pixels)
        => Idx(IdxReader.ImagesMagic, [(uint)count, (uint)rows, (uint)cols], pixels);

    private static byte[] LabelsIdx(byte[] labels) => Idx(IdxReader.LabelsMagic, [(uint)labels.Length], labels);

    private static byte[] Gzip(byte[] plain)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(plain);
        return ms.ToArray();
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] RandomBytes(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)rng.NextInt(256);
        return b;
    }

    // Writes a complete MNIST-shaped folder; each split's shape and count can be varied.
    private void WriteMnistFolder(int trainCount, int testCount, int rows, int cols, bool gzip, bool dotted,
        int? trainLabelCount = null, int? testRows = null)
    {
        string Name(string n) => (dotted ? n.Replace("-idx", ".idx") : n) + (gzip ? ".gz" : "");
        byte[] Maybe(byte[] b) => gzip ? Gzip(b) : b;
        int tr = testRows ?? rows;
        Write(Name(Mnist.TrainImages), Maybe(ImagesIdx(trainCount, rows, cols, RandomBytes(trainCount * rows * cols, 1))));
        Write(Name(Mnist.TrainLabels), Maybe(LabelsIdx(RandomBytes(trainLabelCount ?? trainCount, 2))));
        Write(Name(Mnist.TestImages), Maybe(ImagesIdx(testCount, tr, cols, RandomBytes(testCount * tr * cols, 3))));
        Write(Name(Mnist.TestLabels), Maybe(LabelsIdx(RandomBytes(testCount, 4))));
    }

    private static DataFormatException ThrowsDataFormat(TestDelegate code, string nameInMessage, string phrase)
    {
        var ex = Assert.Throws<DataFormatException>(code)!;
        TestContext.Out.WriteLine(ex.Message);
        Assert.That(ex.Message, Does.Contain(nameInMessage), "the message names the file");
        Assert.That(ex.Message, Does.Contain(phrase));
        Assert.That(ex.Message, Does.Not.Contain('\n').And.Not.Contain('\r'), "one line");
        return ex;
    }

    // ---- IdxReader: round trips ----

    [TestCase(false)]
    [TestCase(true)]
    public void ReadImages_OddShape_RoundTripsExactly(bool gzip)
    {
        byte[] pixels = RandomBytes(3 * 5 * 7, 42);
        byte[] file = ImagesIdx(3, 5, 7, pixels);
        string path = Write("odd-images", gzip ? Gzip(file) : file);

        IdxImages img = IdxReader.ReadImages(path);

        Assert.That((img.Count, img.Rows, img.Cols), Is.EqualTo((3, 5, 7)));
        Assert.That(img.Pixels, Is.EqualTo(pixels).AsCollection);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadLabels_RoundTripsExactly(bool gzip)
    {
        byte[] labels = [0, 9, 255, 3, 7];
        byte[] file = LabelsIdx(labels);
        string path = Write("labels", gzip ? Gzip(file) : file);

        Assert.That(IdxReader.ReadLabels(path), Is.EqualTo(labels).AsCollection);
    }

    [Test]
    public void ReadImages_LargerThanGzipBuffer_RoundTrips()
    {
        // 1300 images of 33x29 = 1,244,100 bytes: the gzip buffer has to grow past its first megabyte.
        byte[] pixels = RandomBytes(1300 * 33 * 29, 7);
        string path = Write("big.gz", Gzip(ImagesIdx(1300, 33, 29, pixels)));

        IdxImages img = IdxReader.ReadImages(path);

        Assert.That((img.Count, img.Rows, img.Cols), Is.EqualTo((1300, 33, 29)));
        Assert.That(img.Pixels.AsSpan().SequenceEqual(pixels), Is.True);
    }

    [Test]
    public void ReadImages_DetectsGzipByMagicBytesNotByName()
    {
        byte[] pixels = RandomBytes(2 * 3 * 4, 5);
        byte[] file = ImagesIdx(2, 3, 4, pixels);
        string gzipWithoutExtension = Write("compressed-idx3-ubyte", Gzip(file));
        string plainWithGzExtension = Write("plain-idx3-ubyte.gz", file);

        Assert.That(IdxReader.ReadImages(gzipWithoutExtension).Pixels, Is.EqualTo(pixels).AsCollection);
        Assert.That(IdxReader.ReadImages(plainWithGzExtension).Pixels, Is.EqualTo(pixels).AsCollection);
    }

    [Test]
    public void ReadImages_ZeroImages_IsEmpty()
    {
        string path = Write("none", ImagesIdx(0, 28, 28, []));
        IdxImages img = IdxReader.ReadImages(path);
        Assert.That((img.Count, img.Pixels.Length), Is.EqualTo((0, 0)));
    }

    // ---- IdxReader: malformed input ----

    [Test]
    public void ReadImages_MissingFile_Throws()
    {
        string path = Path.Combine(_dir, "no-such-file-idx3-ubyte.gz");
        var ex = ThrowsDataFormat(() => IdxReader.ReadImages(path), "no-such-file-idx3-ubyte.gz", "file not found");
        Assert.That(ex.FilePath, Is.EqualTo(path));
    }

    [Test]
    public void ReadLabels_MissingFolder_Throws()
        => ThrowsDataFormat(() => IdxReader.ReadLabels(Path.Combine(_dir, "nope", "labels")), "labels", "file not found");

    [Test]
    public void ReadImages_EmptyFile_Throws()
        => ThrowsDataFormat(() => IdxReader.ReadImages(Write("empty", [])), "empty", "empty file");

    [TestCase(false)]
    [TestCase(true)]
    public void ReadImages_BadMagic_Throws(bool gzip)
    {
        byte[] file = ImagesIdx(1, 2, 2, [1, 2, 3, 4]);
        file[0] = 0x12;
        string path = Write("bad-magic", gzip ? Gzip(file) : file);
        ThrowsDataFormat(() => IdxReader.ReadImages(path), "bad-magic", "wrong magic number 0x12000803");
    }

    [Test]
    public void ReadImages_UnsupportedDataType_Throws()
    {
        byte[] file = Idx(0x00000D03, [1, 1, 1], [0, 0, 0, 0]);
        ThrowsDataFormat(() => IdxReader.ReadImages(Write("floats", file)), "floats", "unsupported IDX data type 0x0D (float32)");
    }

    [Test]
    public void ReadImages_GivenLabelFile_ThrowsWrongDimensions()
    {
        string path = Write("labels-not-images", LabelsIdx([1, 2, 3]));
        ThrowsDataFormat(() => IdxReader.ReadImages(path), "labels-not-images", "declares 1 dimension(s), images need 3");
    }

    [Test]
    public void ReadImages_TruncatedHeader_Throws()
    {
        byte[] file = ImagesIdx(1, 2, 2, [1, 2, 3, 4])[..10];
        ThrowsDataFormat(() => IdxReader.ReadImages(Write("short-header", file)), "short-header", "truncated header: expected 16 bytes, got 10");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadImages_TruncatedData_Throws(bool gzip)
    {
        byte[] file = ImagesIdx(3, 5, 7, RandomBytes(3 * 5 * 7, 1))[..(16 + 100)];
        string path = Write("truncated", gzip ? Gzip(file) : file);
        ThrowsDataFormat(() => IdxReader.ReadImages(path), "truncated", "truncated data: expected 105 bytes of images after the 16-byte header, got 100");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadLabels_TrailingGarbage_Throws(bool gzip)
    {
        byte[] file = [.. LabelsIdx([1, 2, 3]), 0xAA, 0xBB];
        string path = Write("trailing", gzip ? Gzip(file) : file);
        ThrowsDataFormat(() => IdxReader.ReadLabels(path), "trailing", "trailing garbage: 2 bytes after the 3 bytes of labels");
    }

    [Test]
    public void ReadImages_HugeDimensions_ThrowWithoutAllocating()
    {
        // Headers that promise far more than the 16-byte file holds: each is refused before any big allocation.
        string tooMany = Write("too-many", Idx(IdxReader.ImagesMagic, [4_000_000_000, 28, 28], []));
        string tooLarge = Write("too-large", Idx(IdxReader.ImagesMagic, [1, 100_000, 100_000], []));
        string overflow = Write("overflow", Idx(IdxReader.ImagesMagic, [10_000_000, 1000, 1000], []));
        string lying = Write("lying.gz", Gzip(Idx(IdxReader.ImagesMagic, [2_000_000, 1000, 1], [1, 2, 3])));
        string emptyImages = Write("zero-width", Idx(IdxReader.ImagesMagic, [1, 28, 0], []));

        long before = GC.GetAllocatedBytesForCurrentThread();
        ThrowsDataFormat(() => IdxReader.ReadImages(tooMany), "too-many", "more than the limit of 10000000");
        ThrowsDataFormat(() => IdxReader.ReadImages(tooLarge), "too-large", "more than the limit of 1000000 pixels per image");
        ThrowsDataFormat(() => IdxReader.ReadImages(overflow), "overflow", "overflow the largest possible array");
        ThrowsDataFormat(() => IdxReader.ReadImages(lying), "lying.gz", "truncated data: expected 2000000000 bytes of images after the 16-byte header, got 3");
        ThrowsDataFormat(() => IdxReader.ReadImages(emptyImages), "zero-width", "empty 28x0 images");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.LessThan(8L << 20), "a lying header must not cost a header-sized allocation");
    }

    [Test]
    public void ReadImages_CorruptGzip_Throws()
    {
        // Gzip magic, then garbage.
        string garbage = Write("garbage.gz", [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03]);
        ThrowsDataFormat(() => IdxReader.ReadImages(garbage), "garbage.gz", "corrupt gzip data");

        // A real gzip stream with one byte of its compressed body flipped.
        byte[] gz = Gzip(ImagesIdx(3, 5, 7, RandomBytes(105, 9)));
        gz[gz.Length / 2] ^= 0x10;
        string damaged = Write("damaged.gz", gz);
        ThrowsDataFormat(() => IdxReader.ReadImages(damaged), "damaged.gz", "corrupt gzip data");

        // Intact body, wrong CRC-32 in the trailer: the data cannot be trusted.
        byte[] badCrc = Gzip(ImagesIdx(3, 5, 7, RandomBytes(105, 9)));
        badCrc[^8] ^= 0x01;
        string crc = Write("bad-crc.gz", badCrc);
        ThrowsDataFormat(() => IdxReader.ReadImages(crc), "bad-crc.gz", "corrupt gzip data");

        // A gzip stream cut in half.
        byte[] whole = Gzip(ImagesIdx(10, 28, 28, RandomBytes(7840, 11)));
        string cut = Write("cut.gz", whole[..(whole.Length / 2)]);
        ThrowsDataFormat(() => IdxReader.ReadImages(cut), "cut.gz", "truncated data");
    }

    // ---- Mnist.Load ----

    [Test]
    public void EmbeddedSubset_Loads8004TrainAnd1996Test()
    {
        var (train, test) = Subset.Value;

        Assert.That((train.Count, train.Rows, train.Cols), Is.EqualTo((8004, 28, 28)));
        Assert.That((test.Count, test.Rows, test.Cols), Is.EqualTo((1996, 28, 28)));
        foreach (Dataset split in new[] { train, test })
        {
            Assert.That((split.Images.Rows, split.Images.Cols), Is.EqualTo((split.Count, 784)));
            Assert.That(split.Labels, Has.Length.EqualTo(split.Count));
            Assert.That(split.Labels, Has.All.InRange((byte)0, (byte)9));
            float min = float.MaxValue, max = float.MinValue;
            foreach (float v in split.Images.Span) { min = Math.Min(min, v); max = Math.Max(max, v); }
            Assert.That((min, max), Is.EqualTo((0f, 1f)), "pixels span exactly [0, 1]");
        }
        // Every digit occurs in both splits, as in real MNIST.
        Assert.That(train.Labels.Distinct().Count(), Is.EqualTo(10));
        Assert.That(test.Labels.Distinct().Count(), Is.EqualTo(10));
        // MNIST's mean grey level is about 0.13.
        Assert.That(train.MeanPerPixel().Average(), Is.EqualTo(0.13).Within(0.01));
    }

    [Test]
    public void DefaultFolder_FindsTheEmbeddedSubset()
    {
        string folder = Mnist.DefaultFolder();
        Assert.That(Path.GetFullPath(folder).Replace('\\', '/'), Does.EndWith("data/mnist-subset"));
        Assert.That(File.Exists(Path.Combine(folder, "train-images-idx3-ubyte.gz")), Is.True);
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void Load_AcceptsPlainGzipAndDottedNames(bool gzip, bool dotted)
    {
        WriteMnistFolder(trainCount: 6, testCount: 4, rows: 5, cols: 7, gzip, dotted);

        var (train, test) = Mnist.Load(_dir);

        Assert.That((train.Count, train.Rows, train.Cols), Is.EqualTo((6, 5, 7)));
        Assert.That((test.Count, test.Rows, test.Cols), Is.EqualTo((4, 5, 7)));
        byte[] pixels = RandomBytes(6 * 35, 1);
        for (int i = 0; i < pixels.Length; i++) Assert.That(train.Images.Span[i], Is.EqualTo(pixels[i] / 255f));
        Assert.That(train.Labels, Is.EqualTo(RandomBytes(6, 2)).AsCollection);
        Assert.That(test.Labels, Is.EqualTo(RandomBytes(4, 4)).AsCollection);
    }

    [Test]
    public void Load_ImageAndLabelCountsDiffer_Throws()
    {
        WriteMnistFolder(trainCount: 6, testCount: 4, rows: 5, cols: 7, gzip: true, dotted: false, trainLabelCount: 5);
        ThrowsDataFormat(() => Mnist.Load(_dir), "train-labels-idx1-ubyte.gz", "5 labels, but");
    }

    [Test]
    public void Load_TrainAndTestImageSizesDiffer_Throws()
    {
        WriteMnistFolder(trainCount: 6, testCount: 4, rows: 5, cols: 7, gzip: false, dotted: false, testRows: 6);
        ThrowsDataFormat(() => Mnist.Load(_dir), "t10k-images-idx3-ubyte", "test images are 6x7 but training images");
    }

    [Test]
    public void Load_MissingFile_Throws()
    {
        WriteMnistFolder(trainCount: 6, testCount: 4, rows: 5, cols: 7, gzip: true, dotted: false);
        File.Delete(Path.Combine(_dir, "t10k-labels-idx1-ubyte.gz"));
        ThrowsDataFormat(() => Mnist.Load(_dir), "t10k-labels-idx1-ubyte", "file not found");
    }

    [Test]
    public void Load_EmptyTrainingSplit_Throws()
    {
        WriteMnistFolder(trainCount: 0, testCount: 4, rows: 5, cols: 7, gzip: false, dotted: false);
        ThrowsDataFormat(() => Mnist.Load(_dir), Mnist.TrainImages, "no images");
    }

    [Test]
    public void Load_MissingFolder_Throws()
        => ThrowsDataFormat(() => Mnist.Load(Path.Combine(_dir, "absent")), "absent", "data folder not found");

    [Test]
    public void Load_MalformedFile_ThrowsNamingIt()
    {
        WriteMnistFolder(trainCount: 6, testCount: 4, rows: 5, cols: 7, gzip: false, dotted: false);
        string images = Path.Combine(_dir, Mnist.TrainImages);
        File.WriteAllBytes(images, File.ReadAllBytes(images)[..50]);
        ThrowsDataFormat(() => Mnist.Load(_dir), Mnist.TrainImages, "truncated data");
    }

    // ---- Dataset ----

    [Test]
    public void MeanPerPixel_MatchesColumnMeans()
    {
        var images = Tensor<float>.FromArray(3, 2, [0f, 1f, 0.5f, 1f, 0.25f, 1f]);
        var data = new Dataset(images, [0, 1, 2], rows: 1, cols: 2);

        Assert.That(data.MeanPerPixel(), Is.EqualTo(new[] { 0.25f, 1f }).Within(1e-7f).AsCollection);
    }

    // ---- Binarize ----

    [Test]
    public void Dynamic_SameSeedSameResult_PixelsAreBinary()
    {
        Tensor<float> images = Subset.Value.Train.Images;
        int[] rows = [5, 0, 8003, 5];
        var a = Tensor<float>.Zeros(4, 784);
        var b = Tensor<float>.Zeros(4, 784);

        Binarize.Dynamic(images, rows, a, new Rng(123));
        Binarize.Dynamic(images, rows, b, new Rng(123));

        Assert.That(a.ToArray(), Is.EqualTo(b.ToArray()).AsCollection);
        Assert.That(a.ToArray(), Has.All.EqualTo(0f).Or.EqualTo(1f));
        Assert.That(a.Row(0).SequenceEqual(a.Row(3)), Is.False, "the same image twice is binarised independently");
        // Pixels with p = 0 stay 0 and p = 1 stay 1.
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < 784; j++)
            {
                float p = images[rows[i], j];
                if (p == 0f) Assert.That(a[i, j], Is.EqualTo(0f));
                if (p == 1f) Assert.That(a[i, j], Is.EqualTo(1f));
            }
    }

    [Test]
    public void Dynamic_MeanOverManyDrawsApproximatesPixelMean()
    {
        // 13 images x 784 = 10,192 pixels, 64 draws each: the mean binary value tracks the grey-level mean.
        Tensor<float> images = Subset.Value.Train.Images;
        int[] rows = [.. Enumerable.Range(0, 13).Select(i => i * 601)];
        var dst = Tensor<float>.Zeros(rows.Length, 784);
        var rng = new Rng(2024);
        double pixelSum = 0;
        foreach (int r in rows) foreach (float p in images.Row(r)) pixelSum += p;
        double pixelMean = pixelSum / dst.Length;

        double binarySum = 0;
        const int draws = 64;
        var perPixel = new double[dst.Length];
        for (int d = 0; d < draws; d++)
        {
            Binarize.Dynamic(images, rows, dst, rng);
            Span<float> x = dst.Span;
            for (int i = 0; i < x.Length; i++) { binarySum += x[i]; perPixel[i] += x[i]; }
        }

        Assert.That(binarySum / (draws * dst.Length), Is.EqualTo(pixelMean).Within(0.02));
        // Per pixel too: the average error of 64-draw frequencies stays near its sqrt(p(1-p)/64) scale.
        double meanAbsError = 0;
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < 784; j++) meanAbsError += Math.Abs(perPixel[i * 784 + j] / draws - images[rows[i], j]);
        Assert.That(meanAbsError / dst.Length, Is.LessThan(0.02));
    }

    [Test]
    public void Dynamic_AllocatesNothingAfterWarmUp()
    {
        Tensor<float> images = Subset.Value.Train.Images;
        int[] rows = [.. Enumerable.Range(0, 20).Select(i => i * 397)];
        var dst = Tensor<float>.Zeros(20, 784);
        var rng = new Rng(1);
        Binarize.Dynamic(images, rows, dst, rng);
        Binarize.Dynamic(images, rows.AsSpan(0, 7), dst.RowSlice(0, 7), rng);

        GC.Collect();     // a collection inside the window can report a few KB that were never allocated here
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 50; step++)
        {
            Binarize.Dynamic(images, rows, dst, rng);
            Binarize.Dynamic(images, rows.AsSpan(0, 7), dst.RowSlice(0, 7), rng);   // a short last batch
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);
    }

    [Test]
    public void Dynamic_RejectsBadShapesAndIndices()
    {
        var images = Tensor<float>.Zeros(4, 6);
        var rng = new Rng(1);
        Assert.Throws<ArgumentException>(() => Binarize.Dynamic(images, [0, 1], Tensor<float>.Zeros(2, 5), rng));
        Assert.Throws<ArgumentException>(() => Binarize.Dynamic(images, [0, 1], Tensor<float>.Zeros(3, 6), rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => Binarize.Dynamic(images, [0, 4], Tensor<float>.Zeros(2, 6), rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => Binarize.Dynamic(images, [-1], Tensor<float>.Zeros(1, 6), rng));
    }

    [Test]
    public void Fixed_IsDeterministicPerSeed_AndLeavesSourceUnchanged()
    {
        Tensor<float> test = Subset.Value.Test.Images;
        float[] original = test.ToArray();

        Tensor<float> a = Binarize.Fixed(test, seed: 7);
        Tensor<float> b = Binarize.Fixed(test, seed: 7);
        Tensor<float> c = Binarize.Fixed(test, seed: 8);

        Assert.That((a.Rows, a.Cols), Is.EqualTo((test.Rows, test.Cols)));
        Assert.That(a.Span.SequenceEqual(b.Span), Is.True);
        Assert.That(a.Span.SequenceEqual(c.Span), Is.False);
        Assert.That(test.Span.SequenceEqual(original), Is.True);
        Assert.That(a.ToArray(), Has.All.EqualTo(0f).Or.EqualTo(1f));

        // Fixed(seed) is Dynamic over all rows in order with new Rng(seed).
        int[] all = [.. Enumerable.Range(0, test.Rows)];
        var d = Tensor<float>.Zeros(test.Rows, test.Cols);
        Binarize.Dynamic(test, all, d, new Rng(7));
        Assert.That(a.Span.SequenceEqual(d.Span), Is.True);
    }
}
