using System.Text.Json;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Datasets;
using Iwae.Experiments;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>`--layers`, `--estimator`, `--groups`, `--beta` and `iwae sample`.</summary>
public class EstimatorCliTests
{
    private string _dir = "";
    private static string _data = "";

    /// <summary>The first 300 training and 60 test digits of the embedded subset as plain IDX files: the runs here only check plumbing.</summary>
    [OneTimeSetUp]
    public void WriteSmallData()
    {
        _data = Path.Combine(Path.GetTempPath(), "iwae-est-data-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_data);
        var (train, test) = Mnist.Load(Mnist.DefaultFolder());
        Write(train, 300, Mnist.TrainImages, Mnist.TrainLabels);
        Write(test, 60, Mnist.TestImages, Mnist.TestLabels);

        static void Write(Dataset d, int n, string images, string labels)
        {
            static byte[] Header(uint magic, params int[] dims) =>
                new[] { magic }.Concat(dims.Select(v => (uint)v)).SelectMany(v => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v }).ToArray();
            var pixels = d.Images.RowSlice(0, n).ToArray().Select(p => (byte)Math.Round(p * 255)).ToArray();
            File.WriteAllBytes(Path.Combine(_data, images), [.. Header(IdxReader.ImagesMagic, n, d.Rows, d.Cols), .. pixels]);
            File.WriteAllBytes(Path.Combine(_data, labels), [.. Header(IdxReader.LabelsMagic, n), .. d.Labels[..n]]);
        }
    }

    [OneTimeTearDown]
    public void RemoveSmallData() => Directory.Delete(_data, recursive: true);

    [SetUp]
    public void MakeDir() => _dir = Path.Combine(Path.GetTempPath(), "iwae-est-" + Guid.NewGuid().ToString("N")[..8]);

    [TearDown]
    public void RemoveDir()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static string[] Tiny => ["--data", _data, "--epochs", "1", "--hidden", "16", "--latent", "4", "--batch", "100", "--eval-k", "10"];

    [Test]
    public void Help_DescribesTheNewOptionsAndSubcommand()
    {
        Assert.That(Run("--help").Out, Does.Contain("sample"));
        foreach (var sub in new[] { "compare", "train" })
        {
            var (c, o, _) = Run(sub, "--help");
            Assert.That(c, Is.Zero);
            foreach (var opt in new[] { "--layers", "--estimator", "--groups", "--beta" })
                Assert.That(o, Does.Contain(opt), $"{sub} --help lists {opt}");
        }
        var (code, output, _) = Run("sample", "--help");
        Assert.That(code, Is.Zero);
        foreach (var opt in new[] { "--checkpoint", "--posterior", "--k", "--n", "--images", "--seed", "--out" })
            Assert.That(output, Does.Contain(opt));
    }

    [TestCase("--estimator", "foo", "--estimator must be one of iwae, stl, dreg, miwae, ciwae, piwae, got 'foo'")]
    [TestCase("--estimator", "2", "--estimator must be")]
    [TestCase("--estimator", "dreg,--model,vae", "iwae: --estimator dreg applies to the iwae model only")]
    [TestCase("--estimator", "ciwae,--model,vae", "iwae: --estimator ciwae applies to the iwae model only")]
    [TestCase("--estimator", "miwae", "--estimator miwae needs --groups M")]
    [TestCase("--estimator", "piwae,--groups,2,--k,5", "iwae: --groups must divide k (5) for piwae, got 2")]
    [TestCase("--estimator", "miwae,--groups,0", "iwae: --groups must be from 1 to 100000, got 0")]
    [TestCase("--groups", "5", "--groups applies to --estimator miwae or piwae only")]
    [TestCase("--beta", "0.5", "--beta applies to --estimator ciwae only")]
    [TestCase("--estimator", "ciwae,--beta,1.5", "--beta must be in [0, 1], got 1.5")]
    [TestCase("--layers", "3", "--layers must be 1 or 2, got 3")]
    [TestCase("--layers", "0", "--layers must be 1 or 2, got 0")]
    public void BadTrainOptions_AreOneLineOnStderr_NothingWritten(string opt, string values, string message)
    {
        foreach (var sub in new[] { "train", "compare" })
        {
            if (sub == "compare" && values.Contains("--model")) continue;
            var args = new[] { sub, opt }.Concat(values.Split(',')).Concat(["--out", _dir]).ToArray();
            var (code, _, err) = Run(args);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), $"{sub}: {err}");
            Assert.That(err, Does.Contain(message), sub);
            Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
            Assert.That(Directory.Exists(_dir), Is.False, "nothing written");
        }
    }

    [Test]
    public void TwoLayers_WithAnEstimator_TrainsAndKeepsItInTheCheckpoint_ThenSamples()
    {
        var (code, output, err) = Run(["train", "--layers", "2", "--estimator", "piwae", "--groups", "2", "--k", "2", .. Tiny, "--out", _dir]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("iwae k=2: test NLL (k=10)"));
        string ckpt = Path.Combine(_dir, "iwae.safetensors");
        var (config, options, _) = RunCheckpoint.Read(ckpt).Continue();
        Assert.That((config.Layers, config.Latent, config.Latent2), Is.EqualTo((2, 4, 50)));
        Assert.That((options.Estimator, options.Groups), Is.EqualTo((GradientEstimator.Piwae, 2)));

        string samples = Path.Combine(_dir, "samples");
        var (c2, o2, e2) = Run("sample", "--checkpoint", ckpt, "--posterior", "--k", "20", "--n", "3", "--images", "2", "--data", _data, "--out", samples);
        Assert.That(c2, Is.Zero, e2);
        Assert.That(o2, Does.Contain(RunFolder.PosteriorSamplesFile));
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(samples, RunFolder.PosteriorSamplesFile))))
        {
            var r = doc.RootElement;
            Assert.That(r.GetProperty("kind").GetString(), Is.EqualTo("posterior"));
            Assert.That(r.GetProperty("k").GetInt32(), Is.EqualTo(20));
            Assert.That(r.GetProperty("x").GetArrayLength(), Is.EqualTo(2));
            Assert.That(r.GetProperty("x")[1].GetArrayLength(), Is.EqualTo(784));
            foreach (var kind in new[] { "q", "resampled" })
            {
                var z = r.GetProperty(kind).GetProperty("z");
                Assert.That((z.GetArrayLength(), z[0].GetArrayLength(), z[0][2].GetArrayLength()), Is.EqualTo((2, 3, 4)), kind);
                var mean = r.GetProperty(kind).GetProperty("mean");
                Assert.That((mean.GetArrayLength(), mean[1].GetArrayLength(), mean[1][0].GetArrayLength()), Is.EqualTo((2, 3, 784)), kind);
            }
            Assert.That(r.GetProperty("resampled").GetProperty("effective_sample_size").GetArrayLength(), Is.EqualTo(2));
        }

        var (c3, _, e3) = Run("sample", "--checkpoint", ckpt, "--n", "5", "--out", samples);
        Assert.That(c3, Is.Zero, e3);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(samples, RunFolder.PriorSamplesFile))))
        {
            Assert.That(doc.RootElement.GetProperty("z").GetArrayLength(), Is.EqualTo(5));
            Assert.That(doc.RootElement.GetProperty("mean")[4].GetArrayLength(), Is.EqualTo(784));
        }
        Assert.That(Directory.GetFiles(samples, "*.tmp-*"), Is.Empty);

        // Bad sample input: one line, nothing written.
        string none = Path.Combine(_dir, "none");
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--posterior", "--k", "0"], "--k must be from 1 to 1000000, got 0"),
            (["--posterior", "--n", "0"], "--n must be from 1 to 100000, got 0"),
            (["--posterior", "--images", "61", "--data", _data], "--images must be at most the 60 test images, got 61"),
            (["--k", "5"], "--k and --images apply to --posterior only"),
        })
        {
            var (c, _, e) = Run(["sample", "--checkpoint", ckpt, .. args, "--out", none]);
            Assert.That(c, Is.EqualTo(IwaeCommand.BadInput), e);
            Assert.That(e, Does.Contain(message));
            Assert.That(Directory.Exists(none), Is.False);
        }
        var (cm, _, em) = Run("sample", "--checkpoint", Path.Combine(_dir, "missing.safetensors"), "--posterior", "--out", none);
        Assert.That(cm, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(em, Does.Contain("missing.safetensors"));
    }

    [Test]
    public void Snr_WritesOnePointPerEstimatorAndK_AndTheFigure_AndRejectsBadInput()
    {
        var (code, _, err) = Run(["train", "--k", "2", .. Tiny, "--out", _dir]);
        Assert.That(code, Is.Zero, err);
        string ckpt = Path.Combine(_dir, "iwae.safetensors"), snr = Path.Combine(_dir, "snr");
        var (c, o, e) = Run("snr", "--checkpoint", ckpt, "--ks", "1,4", "--estimators", "iwae,dreg,miwae", "--groups", "2",
            "--draws", "5", "--images", "2", "--data", _data, "--out", snr);
        Assert.That(c, Is.Zero, e);
        Assert.That(o, Does.Contain("snr estimator=dreg k=4 encoder="));
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(snr, "snr.json"))))
        {
            var points = doc.RootElement.GetProperty("points").EnumerateArray().ToList();
            // miwae with M = 2 skips k = 1.
            Assert.That(points.Select(p => $"{p.GetProperty("estimator").GetString()}@{p.GetProperty("k").GetInt32()}"),
                Is.EqualTo(new[] { "iwae@1", "iwae@4", "dreg@1", "dreg@4", "miwae@4" }));
            Assert.That(points.All(p => p.GetProperty("encoder").GetDouble() > 0 && p.GetProperty("decoder").GetDouble() > 0));
            Assert.That(points.All(p => p.GetProperty("effective_sample_size").GetDouble() is >= 1 - 1e-9 and <= 4 + 1e-9));
        }
        Assert.That(new FileInfo(Path.Combine(snr, "snr.png")).Length, Is.GreaterThan(1000));

        string none = Path.Combine(_dir, "none");
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--ks", "1,0"], "--ks: '0' is not valid"),
            (["--estimators", "iwae,foo"], "--estimators: 'foo' is not valid"),
            (["--draws", "1"], "--draws must be >= 2, got 1"),
            (["--images", "61"], "--images must be at most the 60 test images, got 61"),
            (["--estimators", "miwae", "--groups", "3", "--ks", "1,2"], "iwae: --ks has no multiple of groups (3)"),
        })
        {
            var (cb, _, eb) = Run(["snr", "--checkpoint", ckpt, "--data", _data, .. args, "--out", none]);
            Assert.That(cb, Is.EqualTo(IwaeCommand.BadInput), eb);
            Assert.That(eb, Does.Contain(message));
            Assert.That(Directory.Exists(none), Is.False);
        }
    }

    [Test]
    public void Snr_Toy_MeasuresTheLinearGaussianModel_WithoutACheckpoint_AndWantsExactlyOneSource()
    {
        string snr = Path.Combine(_dir, "snr-toy");
        var (c, o, e) = Run("snr", "--toy", "--ks", "1,100", "--estimators", "iwae,dreg", "--draws", "400", "--out", snr);
        Assert.That(c, Is.Zero, e);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(snr, "snr.json"))))
        {
            Assert.That(doc.RootElement.GetProperty("toy").GetBoolean(), Is.True);
            Assert.That(doc.RootElement.GetProperty("architecture").GetString(), Is.EqualTo("20-20"));
            var enc = doc.RootElement.GetProperty("points").EnumerateArray()
                .ToDictionary(p => $"{p.GetProperty("estimator").GetString()}@{p.GetProperty("k").GetInt32()}", p => p.GetProperty("encoder").GetDouble());
            Assert.That(enc["iwae@100"], Is.LessThan(enc["iwae@1"]), o);
            Assert.That(enc["dreg@100"], Is.GreaterThan(2 * enc["dreg@1"]), o);
        }
        Assert.That(new FileInfo(Path.Combine(snr, "snr.png")).Length, Is.GreaterThan(1000));

        string none = Path.Combine(_dir, "none");
        foreach (var (args, message) in new (string[], string)[]
        {
            (["snr"], "give either --checkpoint FILE or --toy"),
            (["snr", "--toy", "--checkpoint", Path.Combine(_dir, "x.safetensors")], "give either --checkpoint FILE or --toy"),
            (["snr", "--toy", "--data", _data], "--data does not apply to --toy"),
        })
        {
            var (cb, _, eb) = Run([.. args, "--out", none]);
            Assert.That(cb, Is.EqualTo(IwaeCommand.BadInput), eb);
            Assert.That(eb, Does.Contain(message));
            Assert.That(Directory.Exists(none), Is.False);
        }
    }

    [Test]
    public void LayersTwo_DefaultsTheFirstLatentTo100()
    {
        var (code, _, err) = Run("train", "--layers", "2", "--epochs", "0", "--eval-k", "2", "--data", _data, "--out", _dir);
        Assert.That(code, Is.Zero, err);
        var (config, _, _) = RunCheckpoint.Read(Path.Combine(_dir, "iwae.safetensors")).Continue();
        Assert.That(config.Architecture, Is.EqualTo("784-200-200-100|100-100-100-50"));
    }

    [Test]
    public void Compare_TrainsTheIwaeWithTheEstimator_AndTheVaeWithTheElbo()
    {
        var (code, output, err) = Run(["compare", "--layers", "2", "--estimator", "dreg", "--k", "2", .. Tiny, "--out", _dir]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("IWAE estimator dreg"));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "results.json")));
        var models = doc.RootElement.GetProperty("models");
        Assert.That(models[0].GetProperty("estimator").GetString(), Is.EqualTo("iwae"));
        Assert.That(models[1].GetProperty("estimator").GetString(), Is.EqualTo("dreg"));
        Assert.That(models[1].GetProperty("active_units_per_layer").GetArrayLength(), Is.EqualTo(2));
        Assert.That(doc.RootElement.GetProperty("config").GetProperty("layers").GetInt32(), Is.EqualTo(2));
        Assert.That(RunCheckpoint.Read(Path.Combine(_dir, "vae.safetensors")).Options().Estimator, Is.EqualTo(GradientEstimator.Iwae));
    }
}
