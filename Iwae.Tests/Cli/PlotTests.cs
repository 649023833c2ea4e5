using System.Buffers.Binary;
using Iwae.Cli.Plots;
using Iwae.Experiments;

namespace Iwae.Tests.Cli;

/// <summary>Each figure function writes a valid PNG of the size it promises, from small synthetic data.</summary>
public class PlotTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir()
    {
        // IWAE_KEEP_PLOTS=DIR keeps the figures for looking at them.
        _dir = Environment.GetEnvironmentVariable("IWAE_KEEP_PLOTS") ?? Path.Combine(Path.GetTempPath(), "iwae-plots-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void RemoveDir()
    {
        if (Environment.GetEnvironmentVariable("IWAE_KEEP_PLOTS") is null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Width and height from the IHDR chunk, after checking the signature and that IHDR comes first.</summary>
    internal static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes, Has.Length.GreaterThan(100), $"{path} is too small to be a picture");
        Assert.That(bytes[..8], Is.EqualTo(Signature), "PNG signature");
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)), Is.EqualTo(13), "IHDR length");
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 12, 4), Is.EqualTo("IHDR"));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, bytes.Length - 8, 4), Is.EqualTo("IEND"), "the file is complete");
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private string File_(string name) => Path.Combine(_dir, name);

    [Test]
    public void LearningCurves_WritesPngOfTheRequestedSize()
    {
        double[] epochs = Enumerable.Range(1, 40).Select(e => (double)e).ToArray();
        var curves = new[]
        {
            new LearningCurve("vae", epochs, epochs.Select(e => -90 - 60 / e).ToArray(), [1, 4, 13, 40], [150, 110, 98, 95]),
            new LearningCurve("iwae", epochs, epochs.Select(e => -88 - 60 / e).ToArray(), [1, 4, 13, 40], [148, 107, 96, 93]),
        };
        string path = File_("learning-curves.png");
        LearningCurvesPlot.Save(path, curves, 640, 360);
        Assert.That(PngSize(path), Is.EqualTo((640, 360)));

        string few = File_("learning-curves-short.png");   // a linear epoch axis, one point per curve
        LearningCurvesPlot.Save(few, [new LearningCurve("vae", [1], [-120], [1], [118])], 300, 200);
        Assert.That(PngSize(few), Is.EqualTo((300, 200)));
    }

    [Test]
    public void LearningCurves_YAxisShowsEveryPlottedPoint_TheFirstEpochIncluded()
    {
        // A short run's shape: epoch 1 far above the rest (167 against 150-152), as the default compare draws it.
        double[] epochs = Enumerable.Range(1, 13).Select(e => (double)e).ToArray();
        var curves = new[]
        {
            new LearningCurve("vae", epochs, epochs.Select(e => e == 1 ? -167.0 : -150 - 2 / e).ToArray(), [1, 4, 13], [160, 153, 151]),
            new LearningCurve("iwae", epochs, epochs.Select(e => e == 1 ? -166.0 : -149.5 - 2 / e).ToArray(), [1, 4, 13], [159, 152, 150.5]),
        };
        var limits = LearningCurvesPlot.Build(curves).Axes.GetLimits();
        foreach (var c in curves)
            foreach (double y in c.TrainBound.Select(b => -b).Concat(c.StageTestNll))
                Assert.That(y, Is.InRange(limits.Bottom, limits.Top), $"{c.Model}: {y} within the y axis [{limits.Bottom}, {limits.Top}]");
    }

    [Test]
    public void LatentSpace_WritesPngOfTheRequestedSize()
    {
        var rng = new Random(3);
        LatentPanel Panel(string title)
        {
            var labels = Enumerable.Range(0, 300).Select(i => (byte)(i % 10)).ToArray();
            return new LatentPanel(title, labels.Select(l => l + rng.NextDouble()).ToArray(), labels.Select(l => Math.Sin(l) + rng.NextDouble()).ToArray(),
                labels, "PC 1", "PC 2");
        }
        string path = File_("latent.png");
        LatentPlot.Save(path, [Panel("VAE"), Panel("IWAE")], 800, 400);
        Assert.That(PngSize(path), Is.EqualTo((800, 400)));
    }

    [Test]
    public void LatentSpace_RejectsMismatchedLengths()
        => Assert.That(() => LatentPlot.Save(File_("bad.png"), [new LatentPanel("x", [1, 2], [1], [0, 1], "a", "b")]), Throws.ArgumentException);

    [Test]
    public void ActiveUnits_WritesPngOfTheRequestedSize_EvenWithZeroVariances()
    {
        double[] vae = Enumerable.Range(0, 20).Select(i => i < 8 ? 1.0 / (i + 1) : 1e-5 * i).ToArray();
        double[] iwae = Enumerable.Range(0, 20).Select(i => i < 12 ? 1.0 / (i + 1) : 0.0).ToArray();
        string path = File_("active-units.png");
        ActiveUnitsPlot.Save(path, [("vae", vae), ("iwae", iwae)], 0.01, 500, 300);
        Assert.That(PngSize(path), Is.EqualTo((500, 300)));
    }

    [Test]
    public void DigitRows_WritesPngOfItsDocumentedSize()
    {
        float[] Digit(int seed) => Enumerable.Range(0, 28 * 28).Select(i => (float)((i * 7 + seed * 13) % 28 / 27.0)).ToArray();
        var rows = new[]
        {
            new DigitRow("test", Enumerable.Range(0, 6).Select(Digit).ToArray()),
            new DigitRow("VAE", Enumerable.Range(0, 6).Select(Digit).ToArray()),
            new DigitRow("", Enumerable.Range(0, 4).Select(Digit).ToArray()),
        };
        string path = File_("digits.png");
        var size = DigitRowsPlot.Save(path, rows, side: 28, scale: 2);
        Assert.That(size, Is.EqualTo(DigitRowsPlot.Size(3, 6, 28, 2)));
        Assert.That(size, Is.EqualTo((2 * 8 + DigitRowsPlot.LabelWidth + 6 * 56 + 5 * DigitRowsPlot.Gap, 2 * 8 + 3 * 56 + 2 * DigitRowsPlot.RowGap)));
        Assert.That(PngSize(path), Is.EqualTo(size));
    }

    [Test]
    public void Manifold_WritesPngOfItsDocumentedSize()
    {
        int n = 5;
        var images = Enumerable.Range(0, n * n).Select(i => Enumerable.Repeat(i / (float)(n * n), 7 * 7).ToArray()).ToArray();
        string path = File_("manifold.png");
        var size = ManifoldPlot.Save(path, [("VAE", images), ("IWAE", images)], n, side: 7, scale: 2);
        Assert.That(size, Is.EqualTo((2 * 8 + 2 * 70 + ManifoldPlot.PanelGap, 2 * 8 + ManifoldPlot.TitleHeight + 70)));
        Assert.That(PngSize(path), Is.EqualTo(size));
    }

    [Test]
    public void Sweep_WritesPngOfTheRequestedSize()
    {
        SweepPoint[] points =
        [
            new("784-100-50", 99.1, 97.3, 14, 19),
            new("784-200-200-50", 95.2, 93.8, 18, 25),
            new("784-400-400-50", 94.9, 93.1, 17, 27),
        ];
        string path = File_("sweep.png");
        SweepPlot.Save(path, points, 900, 380);
        Assert.That(PngSize(path), Is.EqualTo((900, 380)));
    }
}
