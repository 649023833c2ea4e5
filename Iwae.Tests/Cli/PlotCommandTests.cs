using System.Buffers.Binary;
using Iwae.Cli;
using Iwae.Core;
using Iwae.Core.Data;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `iwae compare` ends with figures and report.html, `iwae plot --run` redraws them, `--sweep` runs one compare per
/// architecture. On a 300/60-image slice of the embedded subset so each run takes a second or two.
/// </summary>
public class PlotCommandTests : TempDirTests
{
    protected override bool CreateDir => false;
    private static string? _data;


    [OneTimeTearDown]
    public void RemoveData()
    {
        if (_data is not null && Directory.Exists(_data)) Directory.Delete(_data, recursive: true);
        _data = null;
    }

    /// <summary>The first 300 training and 60 test digits of the embedded subset, as plain IDX files.</summary>
    private static string SmallData()
    {
        if (_data is not null) return _data;
        var (train, test) = Mnist.Load(Mnist.DefaultFolder());
        string dir = Path.Combine(Path.GetTempPath(), "iwae-smalldata-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        Write(Path.Combine(dir, Mnist.TrainImages), Path.Combine(dir, Mnist.TrainLabels), train, 300);
        Write(Path.Combine(dir, Mnist.TestImages), Path.Combine(dir, Mnist.TestLabels), test, 60);
        return _data = dir;

        static void Write(string images, string labels, Dataset d, int n)
        {
            using (var f = File.Create(images))
            {
                Header(f, 0x803, n, d.Rows, d.Cols);
                var span = d.Images.Span[..(n * d.PixelsPerImage)];
                foreach (float p in span) f.WriteByte((byte)Math.Round(p * 255));
            }
            using (var f = File.Create(labels))
            {
                Header(f, 0x801, n);
                f.Write(d.Labels, 0, n);
            }
        }

        static void Header(Stream s, int magic, params int[] dims)
        {
            var b = new byte[4];
            foreach (int v in new[] { magic }.Concat(dims))
            {
                BinaryPrimitives.WriteInt32BigEndian(b, v);
                s.Write(b);
            }
        }
    }

    private static readonly string[] Tiny = ["--epochs", "2", "--hidden", "16", "--k", "2", "--batch", "50", "--eval-k", "5"];

    [Test]
    public void Compare_WritesFiguresAndReport_PlotRedrawsThem()
    {
        var (code, output, err) = Run(["compare", .. Tiny, "--latent", "2", "--data", SmallData(), "--out", Dir]);
        Assert.That(code, Is.Zero, err);
        Assert.That(err, Is.Empty);
        Assert.That(output, Does.Contain("report: "));
        string[] pngs = ["learning-curves.png", "latent.png", "active-units.png", "reconstructions.png", "samples.png", "manifold.png"];
        foreach (var png in pngs)
        {
            var (w, h) = PlotTests.PngSize(Path.Combine(Dir, png));
            Assert.That(w * h, Is.GreaterThan(10_000), png);
        }
        string report = Path.Combine(Dir, "report.html");
        string html = File.ReadAllText(report);
        Assert.That(System.Text.RegularExpressions.Regex.Matches(html, "src=\"data:image/png;base64,").Count, Is.EqualTo(pngs.Length));
        string[] nlls;
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "results.json"))))
            nlls = doc.RootElement.GetProperty("models").EnumerateArray()
                .Select(m => m.GetProperty("test_nll").GetDouble().ToString("F2", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        foreach (var nll in nlls) Assert.That(html, Does.Contain(nll));

        foreach (var png in pngs) File.Delete(Path.Combine(Dir, png));
        File.Delete(report);
        var (c2, o2, e2) = Run("plot", "--run", Dir, "--data", SmallData());
        Assert.That(c2, Is.Zero, e2);
        Assert.That(o2, Does.Contain("report: "));
        foreach (var png in pngs) Assert.That(File.Exists(Path.Combine(Dir, png)), Is.True, png);
        Assert.That(File.ReadAllText(report), Has.Length.EqualTo(html.Length), "the same page again");

        // A results.json written before the NLL was named test_nll (test_nll_k5000, no eval_k per model) still draws.
        string results = Path.Combine(Dir, "results.json");
        File.WriteAllText(results, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(results).Replace("\"test_nll\":", "\"test_nll_k5000\":"),
            "\"eval_k\":5,\"test_bound_k1\"", "\"test_bound_k1\""));
        Assert.That(File.ReadAllText(results), Does.Not.Contain("\"test_nll\":").And.Contain("\"test_nll_k5000\":"));
        File.Delete(report);
        var (c3, _, e3) = Run("plot", "--run", Dir, "--data", SmallData());
        Assert.That(c3, Is.Zero, e3);
        foreach (var nll in nlls) Assert.That(File.ReadAllText(report), Does.Contain(nll));
    }

    [Test]
    public void Sweep_RunsEachArchitecture_AsASweepFolder_OneTableAndChart_ThenPlotRedrawsIt()
    {
        var (code, output, err) = Run(["compare", .. Tiny, "--latent", "3", "--sweep", "8x1,8x2", "--data", SmallData(), "--out", Dir]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("sweep report: "));
        Assert.That(File.Exists(Path.Combine(Dir, "sweep.json")), Is.True, "a sweep folder, as `iwae sweep plan` writes");
        foreach (var run in new[] { "h8-vae", "h8-iwae", "h8-8-vae", "h8-8-iwae" })
        {
            Assert.That(File.Exists(Path.Combine(Dir, "runs", run, "results.json")), Is.True, run);
            Assert.That(File.Exists(Path.Combine(Dir, "runs", run, "report.html")), Is.True, run);
        }
        Assert.That(PlotTests.PngSize(Path.Combine(Dir, "sweep.png")), Is.EqualTo((1200, 500)));
        string html = File.ReadAllText(Path.Combine(Dir, "report.html"));
        Assert.That(html, Does.Contain("784-8-3").And.Contain("784-8-8-3").And.Contain("href=\"runs/h8-8-iwae/report.html\""));
        Assert.That(File.ReadAllLines(Path.Combine(Dir, "results.csv")), Has.Length.EqualTo(5), "a header and four runs");

        File.Delete(Path.Combine(Dir, "report.html"));
        var (c2, _, e2) = Run("plot", "--run", Dir);
        Assert.That(c2, Is.Zero, e2);
        Assert.That(File.ReadAllText(Path.Combine(Dir, "report.html")), Does.Contain("784-8-8-3"), "plot redraws a sweep folder");
    }

    [TestCase(SweepFailureCause.BadInput, IwaeCommand.BadInput)]
    [TestCase(SweepFailureCause.NonFinite, IwaeCommand.Diverged)]
    public void Sweep_ARunThatFailedBefore_IsOneLine_AndExitsWithItsCause(SweepFailureCause cause, int exit)
    {
        // A run's "failed" file, as a sweep's worker leaves it: that run is not tried again, the others are run, and
        // the exit code is the failure's, as `sweep run` gives it (3 only for a run that went non-finite).
        Directory.CreateDirectory(Path.Combine(Dir, "runs", "h8-vae"));
        File.WriteAllText(Path.Combine(Dir, "runs", "h8-vae", SweepFolder.FailedFile), IwaeJson.Serialize(new SweepFailure(cause, "it failed")) + "\n");
        var (code, output, err) = Run(["compare", .. Tiny, "--latent", "3", "--sweep", "8x1", "--data", SmallData(), "--out", Dir]);
        Assert.That(code, Is.EqualTo(exit), err);
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(err, Does.StartWith("iwae: h8-vae failed before: it failed"));
        Assert.That(File.Exists(Path.Combine(Dir, "runs", "h8-iwae", "results.json")), Is.True, "the other run ran");
        Assert.That(File.Exists(Path.Combine(Dir, "report.html")), Is.False, "no report over a sweep with a failed run");
    }

    [TestCase("/no/such/run", "/no/such/run: run folder not found")]
    public void Plot_MissingFolder_IsOneLine(string dir, string message)
    {
        var (code, _, err) = Run("plot", "--run", dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err.Trim(), Is.EqualTo($"iwae: {message}"));
    }

    [Test]
    public void Plot_FolderWithoutResults_IsOneLine()
    {
        Directory.CreateDirectory(Dir);
        var (code, _, err) = Run("plot", "--run", Dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain("results.json: file not found"));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void Compare_BadSweep_IsOneLine_NothingWritten()
    {
        var (code, _, err) = Run("compare", "--sweep", "100x0", "--out", Dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain("--sweep: '100x0' is not WIDTHxDEPTH"));
        Assert.That(Directory.Exists(Dir), Is.False);
    }

    [Test]
    public void Compare_SweepWithoutAValue_IsAccepted()
    {
        // --sweep takes an optional value: the next token here is an option, so the sweep is the default one,
        // and the bad --k is what stops the run (before anything is trained or written).
        var (code, _, err) = Run("compare", "--sweep", "--k", "0", "--out", Dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain("--k must be from 1 to 100000, got 0"));
        Assert.That(Directory.Exists(Dir), Is.False);
    }

    [Test]
    public void Help_ListsPlotAndSweep()
    {
        Assert.That(Run("--help").Out, Does.Contain("plot"));
        Assert.That(Run("compare", "--help").Out, Does.Contain("--sweep"));
        Assert.That(Run("plot", "--help").Out, Does.Contain("--run").And.Contain("--data"));
    }
}
