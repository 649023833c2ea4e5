using System.Globalization;
using System.Text;
using Iwae.Autodiff;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Datasets;
using Iwae.Experiments;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// Data that are not MNIST flow through training, evaluation, checkpoints and the report: a synthetic 10-D set in a
/// .npy file with the Gaussian observation model, a 64-D set of 8x8 images in a CSV file, a .npz with its own splits.
/// </summary>
public class DataFormatsCliTests : TempDirTests
{
    /// <summary>
    /// n points of a 2-D latent factor model in 10 dimensions, x = z A + 0.1 noise: what a VAE with a small latent
    /// should model well.
    /// </summary>
    private static float[] LowRankPoints(int n, int d, ulong seed)
    {
        var rng = new Rng(seed);
        var a = new double[2 * d];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextNormal();
        var x = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            double z0 = rng.NextNormal(), z1 = rng.NextNormal();
            for (int j = 0; j < d; j++) x[r * d + j] = (float)(z0 * a[j] + z1 * a[d + j] + 0.1 * rng.NextNormal());
        }
        return x;
    }

    /// <summary>A float32 C-order .npy file of [n, d].</summary>
    internal static void WriteNpy(string path, float[] values, int n, int d)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {d}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var f = File.Create(path);
        f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(Encoding.ASCII.GetBytes(header));
        foreach (float v in values) f.Write(BitConverter.GetBytes(v));
    }

    [Test]
    public void Npy_WithTheGaussianObservationModel_TrainsEvaluatesAndReports_OnTenDimensions()
    {
        string data = Path.Combine(Dir, "points.npy");
        WriteNpy(data, LowRankPoints(400, 10, 1), 400, 10);
        string run = Path.Combine(Dir, "run");
        var (code, output, err) = Run("compare", "--data", data, "--observation", "gaussian", "--test-fraction", "0.25", "--hidden", "16",
            "--latent", "2", "--k", "3", "--epochs", "30", "--batch", "20", "--eval-k", "50", "--threads", "1", "--out", run);
        Assert.That(code, Is.Zero, err + output);

        var results = new RunFolder(run).ReadResults();
        Assert.That(results.Config.InputSize, Is.EqualTo(10), "the model's input size follows the data");
        Assert.That(results.Config.Observation, Is.EqualTo(Observation.Gaussian));
        Assert.That((results.TrainImages, results.TestImages), Is.EqualTo((300, 100)), "a quarter held out");
        foreach (var m in results.Models)
        {
            Assert.That(double.IsFinite(m.TestNll), Is.True, m.Model);
            Assert.That(m.FinalTrainBound, Is.GreaterThan(results.Models[0].FinalTrainBound - 1000), "finite bounds");
        }
        // Training helps: the final training bound is far above the first epoch's.
        var epochs = new RunFolder(run).ReadMetrics("iwae");
        Assert.That(epochs[^1].TrainBound, Is.GreaterThan(epochs[0].TrainBound + 10), $"{epochs[0].TrainBound} -> {epochs[^1].TrainBound}");

        // The report draws what applies and says why the rest is missing.
        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.That(html, Does.Contain("not a square number"));
        Assert.That(File.Exists(Path.Combine(run, RunFolder.Figures.Latent)), Is.True);
        Assert.That(File.Exists(Path.Combine(run, RunFolder.Figures.Reconstructions)), Is.False);

        // eval reads the checkpoint's own data and held-out split by default, and gives the run's figure again.
        var (c2, o2, e2) = Run("eval", "--checkpoint", Path.Combine(run, "iwae.safetensors"), "--eval-k", "50", "--threads", "2");
        Assert.That(c2, Is.Zero, e2);
        var iwae = results.Model("iwae")!;
        Assert.That(o2, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"test NLL (k=50) {iwae.TestNll:F2}")));
    }

    [Test]
    public void Csv_OfSixtyFourColumns_TrainsAsEightByEightImages_AndRejectsValuesOutsideZeroOneForBernoulli()
    {
        var rng = new Rng(3);
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(",", Enumerable.Range(0, 64).Select(i => $"p{i}")));
        for (int r = 0; r < 300; r++)
        {
            int stroke = r % 8;      // a vertical bar at one of 8 columns, with noise: 8 kinds of "digit"
            csv.AppendLine(string.Join(",", Enumerable.Range(0, 64).Select(i =>
                (i % 8 == stroke ? 0.9 : 0.05 + 0.1 * rng.NextDouble()).ToString("F3", CultureInfo.InvariantCulture))));
        }
        string data = Path.Combine(Dir, "digits.csv");
        File.WriteAllText(data, csv.ToString());
        string run = Path.Combine(Dir, "run");
        var (code, output, err) = Run("train", "--data", data, "--hidden", "32", "--latent", "4", "--k", "2", "--epochs", "3", "--batch", "25",
            "--eval-k", "20", "--out", run);
        Assert.That(code, Is.Zero, err + output);
        Assert.That(output, Does.Contain("iwae k=2: test NLL (k=20)"));
        var checkpoint = RunCheckpoint.Read(Path.Combine(run, "iwae.safetensors"));
        Assert.That(checkpoint.Config.InputSize, Is.EqualTo(64));
        Assert.That(checkpoint.Settings().Data, Is.EqualTo(data), "the checkpoint records the data");

        // score: every row of the file with --split all, the held-out 30 by default.
        string all = Path.Combine(Dir, "all.csv"), test = Path.Combine(Dir, "test.csv");
        var (cs, _, es) = Run("score", "--checkpoint", Path.Combine(run, "iwae.safetensors"), "--split", "all", "--eval-k", "10", "--out", all);
        Assert.That(cs, Is.Zero, es);
        Assert.That(File.ReadAllLines(all), Has.Length.EqualTo(301), "header and 300 rows");
        (cs, _, es) = Run("score", "--checkpoint", Path.Combine(run, "iwae.safetensors"), "--eval-k", "10", "--out", test);
        Assert.That(cs, Is.Zero, es);
        Assert.That(File.ReadAllLines(test), Has.Length.EqualTo(31), "header and the 30 held-out rows");

        string bad = Path.Combine(Dir, "bad.csv");
        File.WriteAllText(bad, "1,2\n0.5,0.25\n0,1\n");
        string none = Path.Combine(Dir, "none");
        var (c2, _, e2) = Run("train", "--data", bad, "--epochs", "1", "--out", none);
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e2, Does.Contain("bad.csv: line 1, column 2: value 2 is outside [0, 1]").And.Contain("--observation gaussian"));
        Assert.That(Directory.Exists(none), Is.False, "nothing written");
    }

    [TestCase("no-such-file.npy", "no-such-file.npy: no such file or folder, and not a known data set (mnist-subset, mnist, fashion-mnist, omniglot, binarized-mnist")]
    [TestCase("mnistt", "mnistt: no such file or folder, and not a known data set")]
    public void UnknownData_IsOneLineThatSaysWhatIsKnown(string spec, string message)
    {
        string none = Path.Combine(Dir, "none");
        var (code, _, err) = Run("train", "--data", spec, "--epochs", "1", "--out", none);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void AKnownSetThatIsNotFetched_SaysHowToFetchIt()
    {
        string dataDir = Path.Combine(Dir, "data-home");
        Directory.CreateDirectory(dataDir);
        Environment.SetEnvironmentVariable(DataSets.DirectoryVariable, dataDir);
        try
        {
            var (code, _, err) = Run("train", "--data", "omniglot", "--epochs", "1", "--out", Path.Combine(Dir, "none"));
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
            Assert.That(err, Does.Contain("omniglot: the omniglot data set is not in").And.Contain("iwae data fetch omniglot"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataSets.DirectoryVariable, null);
        }
    }

    [Test]
    public void Score_RowsAreTheLinesOfTheCsv_HeaderIncluded_WithTheirSplit()
    {
        // Line L (header on line 1, a blank line 2) holds L / 100 in both columns, so a row names its example.
        var csv = new StringBuilder("a,b\n\n");
        for (int line = 3; line < 3 + 60; line++) csv.Append(string.Create(CultureInfo.InvariantCulture, $"{line / 100.0},{line / 100.0}\n"));
        string data = Write("lines.csv", csv.ToString());
        string run = Path.Combine(Dir, "run");
        var (code, _, err) = Run("train", "--data", data, "--hidden", "4", "--latent", "2", "--epochs", "1", "--eval-k", "5", "--out", run);
        Assert.That(code, Is.Zero, err);
        var (train, test) = DataSource.Load(data);

        string all = Path.Combine(Dir, "all.csv");
        (code, var output, err) = Run("score", "--checkpoint", Path.Combine(run, "iwae.safetensors"), "--split", "all", "--k", "3", "--out", all);
        Assert.That(code, Is.Zero, err);
        var lines = File.ReadAllLines(all);
        Assert.That(lines[0], Is.EqualTo("split,row,log_px,stderr"));
        var cells = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        Assert.That(cells.Select(c => (c[0], int.Parse(c[1], CultureInfo.InvariantCulture))), Is.EqualTo(
            train.Origin.Rows.Select(r => ("train", r)).Concat(test.Origin.Rows.Select(r => ("test", r)))));
        Assert.That(cells.Select(c => int.Parse(c[1], CultureInfo.InvariantCulture)).Order(), Is.EqualTo(Enumerable.Range(3, 60)), "each line of the file once");
        for (int i = 0; i < test.Count; i++)
            Assert.That(test.Images.Row(i)[0], Is.EqualTo(test.Origin.Rows[i] / 100f).Within(1e-6), "the row is the example's line");
        Assert.That(output, Does.Contain($"row: the line in {data} (from 1, header and blank lines counted)"));

        var (_, help, _) = Run("score", "--help");
        Assert.That(help, Does.Contain("split (train or test)").And.Contain("row, where the example is in its file").And.Contain("header and blank lines counted"));
    }

    [Test]
    public void Split_HoldsOutTheFractionBySeed_TheSameEveryTime()
    {
        var all = Dataset.Vectors(Tensor<float>.FromArray(20, 1, [.. Enumerable.Range(0, 20).Select(i => (float)i)]));
        var (train, test) = DataSource.Split(all, 0.25);
        var (train2, test2) = DataSource.Split(all, 0.25);
        Assert.That((train.Count, test.Count), Is.EqualTo((15, 5)));
        Assert.That(test.Images.Span.ToArray(), Is.EqualTo(test2.Images.Span.ToArray()));
        Assert.That(train.Images.Span.ToArray().Concat(test.Images.Span.ToArray()).Order(), Is.EqualTo(all.Images.Span.ToArray()), "a partition");
        Assert.That(train.Images.Span.ToArray(), Is.Ordered, "the examples keep their order");
        Assert.That(test.Images.Span.ToArray(), Is.Not.EqualTo(new float[] { 15, 16, 17, 18, 19 }), "shuffled, not the tail");
    }
}
