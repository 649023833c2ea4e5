using System.IO.Compression;
using System.Security.Cryptography;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Tests.Cli;

/// <summary>
/// Every kind of bad input, table-driven: the command exits with a non-zero code, prints one line on stderr
/// naming the file or option and what is wrong, prints no stack trace, and creates or changes no file.
/// </summary>
[NonParallelizable]
public class BadInputTests
{
    private static string _root = "";
    private static string Good => Path.Combine(_root, "good");
    private static string GoodCheckpoint => Path.Combine(_root, "ckpt", "iwae.safetensors");
    private static string GoodTorch => Path.Combine(_root, "ckpt", "torch.safetensors");
    private static string Imported => Path.Combine(_root, "imported.safetensors");

    [OneTimeSetUp]
    public void Build()
    {
        _root = Path.Combine(Path.GetTempPath(), "iwae-bad-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Good);
        foreach (var f in Directory.GetFiles(Mnist.DefaultFolder(), "*-ubyte.gz")) File.Copy(f, Path.Combine(Good, Path.GetFileName(f)));
        Directory.CreateDirectory(Path.GetDirectoryName(GoodCheckpoint)!);
        var (train, _) = Mnist.Load(Good);
        var model = Runs.CreateModel(new ModelConfig { Hidden = [8], Latent = 2, K = 2 }, train, 1);
        RunCheckpoint.Save(GoodCheckpoint, model, new Trainer(model, train, new TrainOptions { Epochs = 1 }));
        TorchExport.Export(model, GoodTorch);
    }

    [OneTimeTearDown]
    public void Remove() => Directory.Delete(_root, recursive: true);

    // ---- builders of bad files (each returns the path to pass) ----

    private static byte[] Idx(uint magic, int[] dims, int payload)
    {
        var b = new List<byte>();
        void Int(uint v) => b.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
        Int(magic);
        foreach (var d in dims) Int((uint)d);
        b.AddRange(Enumerable.Range(0, payload).Select(i => (byte)(i % 7 == 0 ? 255 : 0)));
        return b.ToArray();
    }

    /// <summary>A copy of the good data folder with one file replaced (null bytes: deleted).</summary>
    private static string DataWith(string name, string file, byte[]? bytes)
    {
        string dir = Path.Combine(_root, "data-" + name);
        if (Directory.Exists(dir)) return dir;
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Good)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        string target = Path.Combine(dir, file + ".gz");
        File.Delete(target);
        if (bytes is not null) File.WriteAllBytes(Path.Combine(dir, file), bytes);
        return dir;
    }

    private static byte[] GzipOf(byte[] plain)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(plain);
        return ms.ToArray();
    }

    /// <summary>A checkpoint file next to the good one, with bytes transformed.</summary>
    private static string CheckpointWith(string name, Func<byte[], byte[]> edit)
    {
        string path = Path.Combine(_root, "ckpt-" + name + ".safetensors");
        if (!File.Exists(path)) File.WriteAllBytes(path, edit(File.ReadAllBytes(GoodCheckpoint)));
        return path;
    }

    private static string CheckpointFrom(string name, IReadOnlyDictionary<string, string> meta, IEnumerable<SafeTensorEntry> entries)
    {
        string path = Path.Combine(_root, "ckpt-" + name + ".safetensors");
        if (!File.Exists(path)) SafeTensors.Write(path, meta, entries);
        return path;
    }

    private static IEnumerable<SafeTensorEntry> GoodEntries(Func<SafeTensorEntry, SafeTensorEntry>? map = null)
    {
        var f = SafeTensors.Read(GoodCheckpoint);
        return f.Entries.Select(e => map is null ? e : map(e)).ToArray();
    }

    /// <summary>A copy of the good torch export with its metadata and tensors mapped (a null tensor is dropped).</summary>
    private static string TorchWith(string name, Func<IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, string>> meta, Func<SafeTensorEntry, SafeTensorEntry?> map)
    {
        var f = SafeTensors.Read(GoodTorch);
        return CheckpointFrom("torch-" + name, meta(f.Metadata), f.Entries.Select(map).OfType<SafeTensorEntry>().ToArray());
    }

    private static string ResumeDir(string name, params string[] checkpoints)
    {
        string dir = Path.Combine(_root, "resume-" + name);
        Directory.CreateDirectory(dir);
        foreach (var c in checkpoints) File.Copy(GoodCheckpoint, Path.Combine(dir, c), overwrite: true);
        return dir;
    }

    /// <summary>A file of <paramref name="text"/> under the test root.</summary>
    private static string DataFile(string name, string text)
    {
        string path = Path.Combine(_root, name);
        if (!File.Exists(path)) File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A run folder whose results.json holds <paramref name="json"/>.</summary>
    private static string RunWithResults(string name, string json)
    {
        string dir = Path.Combine(_root, "run-" + name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "results.json"), json);
        return dir;
    }

    public sealed record Case(string Name, Func<string, string[]> Args, string Message)
    {
        public override string ToString() => Name;
    }

    private static readonly string[] Tiny = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "2"];

    private static IEnumerable<TestCaseData> Cases()
    {
        Case C(string name, Func<string, string[]> args, string message) => new(name, args, message);
        // The tiny settings, with the option under test taking the place of its tiny value.
        string[] Train(string outDir, params string[] extra)
        {
            var args = new List<string> { "train" };
            for (int i = 0; i < Tiny.Length; i += 2)
                if (!extra.Contains(Tiny[i])) args.AddRange([Tiny[i], Tiny[i + 1]]);
            return [.. args, .. extra, "--out", outDir];
        }
        var cases = new[]
        {
            // options
            C("k zero", o => Train(o, "--k", "0"), "--k must be from 1 to 100000, got 0"),
            C("k negative", o => Train(o, "--k", "-3"), "--k must be from 1 to 100000, got -3"),
            C("batch zero", o => Train(o, "--batch", "0"), "--batch must be from 1 to 1000000, got 0"),
            C("threads zero", o => Train(o, "--threads", "0"), "--threads must be from 1 to 1024, got 0"),
            C("epochs negative", o => ["train", "--epochs", "-1", "--out", o], "--epochs must be from 0 to 1000000, got -1"),
            C("latent zero", o => Train(o, "--latent", "0"), "--latent must be from 1 to 4096, got 0"),
            C("stages zero", o => ["train", "--stages", "0", "--out", o], "--stages must be from 1 to 12, got 0"),
            C("hidden zero width", o => Train(o, "--hidden", "200,0"), "--hidden must be widths from 1 to 65536"),
            C("hidden not a number", o => Train(o, "--hidden", "abc"), "--hidden must be widths from 1 to 65536"),
            C("hidden empty", o => Train(o, "--hidden", ""), "--hidden must be widths from 1 to 65536"),
            C("unknown model", o => Train(o, "--model", "gan"), "--model must be iwae or vae, got 'gan'"),
            C("eval k zero (compare)", o => ["compare", "--epochs", "1", "--eval-k", "0", "--out", o], "--eval-k must be from 1 to 1000000, got 0"),
            C("checkpoint-every zero", o => Train(o, "--checkpoint-every", "0"), "--checkpoint-every must be from 1 to 1000000, got 0"),
            C("lr zero", o => Train(o, "--lr", "0"), "iwae: --lr must be a positive number at most 1, got 0"),
            C("lr nan", o => Train(o, "--lr", "nan"), "iwae: --lr must be a positive number at most 1, got NaN"),
            C("lr too large (compare)", o => ["compare", .. Tiny, "--lr", "5", "--out", o], "iwae: --lr must be a positive number at most 1, got 5"),
            C("validation fraction 0.9", o => Train(o, "--validation-fraction", "0.9"), "iwae: --validation-fraction must be from 0 to 0.5, got 0.9"),
            C("patience without validation", o => Train(o, "--patience", "3"), "iwae: --patience needs a validation split to watch: give validation_fraction (--validation-fraction) above 0"),
            C("patience zero", o => Train(o, "--validation-fraction", "0.1", "--patience", "0"), "iwae: --patience must be from 1 to 1000000, got 0"),
            C("validation k without validation", o => Train(o, "--validation-k", "5"), "iwae: --validation-k needs a validation split"),
            C("eval k zero", _ => ["eval", "--checkpoint", GoodCheckpoint, "--k", "0"], "--k must be from 1 to 1000000, got 0"),
            // A setting the libraries refuse is named as the user spelled its option (an alias too), and by its field when no option set it.
            C("eval k zero, as --eval-k", _ => ["eval", "--checkpoint", GoodCheckpoint, "--eval-k", "0"], "iwae: --eval-k must be from 1 to 1000000, got 0"),
            C("sample proposals zero, as --k", o => ["sample", "--checkpoint", GoodCheckpoint, "--posterior", "--k", "0", "--out", o], "iwae: --k must be from 1 to 1000000, got 0"),
            C("sample proposals zero", o => ["sample", "--checkpoint", GoodCheckpoint, "--posterior", "--proposals", "0", "--out", o], "iwae: --proposals must be from 1 to 1000000, got 0"),
            C("sample draws zero", o => ["sample", "--checkpoint", GoodCheckpoint, "--n", "0", "--out", o], "iwae: --n must be from 1 to 100000, got 0"),
            C("batch zero", o => Train(o, "--batch", "0"), "iwae: --batch must be from 1 to 1000000, got 0"),
            C("eval of a checkpoint whose config has k zero", _ => ["eval", "--checkpoint", CheckpointFrom("k0",
                SafeTensors.Read(GoodCheckpoint).Metadata.ToDictionary(kv => kv.Key, kv => kv.Key == "config" ? "{\"k\":0}" : kv.Value), GoodEntries())], ": k must be from 1 to 100000, got 0"),
            // data
            C("data folder missing", o => Train(o, "--data", Path.Combine(_root, "nowhere")), "nowhere: no such file or folder, and not a known data set"),
            C("train images missing", o => Train(o, "--data", DataWith("noimages", "train-images-idx3-ubyte", null)), "train-images-idx3-ubyte"),
            C("idx bad magic", o => Train(o, "--data", DataWith("magic", "train-images-idx3-ubyte", Idx(0x0000_0999, [10, 28, 28], 7840))), "magic"),
            C("idx truncated", o => Train(o, "--data", DataWith("trunc", "train-images-idx3-ubyte", Idx(0x803, [10, 28, 28], 5000))), "train-images-idx3-ubyte"),
            C("labels count mismatch", o => Train(o, "--data", DataWith("count", "train-labels-idx1-ubyte", Idx(0x801, [7], 7))), "train-labels-idx1-ubyte"),
            C("images not 28x28", o => Train(o, "--data", DataWith("size", "t10k-images-idx3-ubyte", Idx(0x803, [1996, 20, 20], 1996 * 400))), "t10k-images-idx3-ubyte"),
            C("corrupt gzip", o => Train(o, "--data", DataWith("gz", "train-images-idx3-ubyte.gz", GzipOf(Idx(0x803, [10, 28, 28], 7840))[..40])), "train-images-idx3-ubyte.gz"),
            C("empty idx file", o => Train(o, "--data", DataWith("empty", "train-labels-idx1-ubyte", [])), "train-labels-idx1-ubyte"),
            C("labels rank wrong", o => Train(o, "--data", DataWith("rank", "train-labels-idx1-ubyte", Idx(0x803, [8004, 1, 1], 8004))), "train-labels-idx1-ubyte"),
            // checkpoints
            C("checkpoint missing", _ => ["eval", "--checkpoint", Path.Combine(_root, "none.safetensors")], "none.safetensors: file not found"),
            C("checkpoint truncated", _ => ["eval", "--checkpoint", CheckpointWith("trunc", b => b[..(b.Length / 2)])], "ckpt-trunc.safetensors"),
            C("checkpoint shorter than its header", _ => ["eval", "--checkpoint", CheckpointWith("short", b => b[..5])], "ckpt-short.safetensors"),
            C("checkpoint header not json", _ => ["eval", "--checkpoint", CheckpointWith("json", b => { var c = (byte[])b.Clone(); c[8] = (byte)'x'; return c; })], "ckpt-json.safetensors"),
            C("checkpoint header length too large", _ => ["eval", "--checkpoint", CheckpointWith("hlen", b => { var c = (byte[])b.Clone(); c[5] = 0x7f; return c; })], "ckpt-hlen.safetensors"),
            C("checkpoint random bytes", _ => ["eval", "--checkpoint", CheckpointWith("random", b => b.Select((_, i) => (byte)(i * 131)).ToArray())], "ckpt-random.safetensors"),
            C("checkpoint wrong dtype", _ => ["eval", "--checkpoint", CheckpointFrom("dtype", SafeTensors.Read(GoodCheckpoint).Metadata,
                GoodEntries(e => e.Name == "decoder.out.b" ? SafeTensorEntry.FromF64(e.Name, e.Shape, e.ToF32().Select(v => (double)v).ToArray()) : e))], "decoder.out.b"),
            C("checkpoint wrong shape", _ => ["eval", "--checkpoint", CheckpointFrom("shape", SafeTensors.Read(GoodCheckpoint).Metadata,
                GoodEntries(e => e.Name == "encoder.mu.b" ? SafeTensorEntry.FromF32(e.Name, [1, 3], new float[3]) : e))], "encoder.mu.b"),
            C("checkpoint without config", _ => ["eval", "--checkpoint", CheckpointFrom("noconfig",
                SafeTensors.Read(GoodCheckpoint).Metadata.Where(kv => kv.Key != "config").ToDictionary(), GoodEntries())], "no model config"),
            C("checkpoint config invalid", _ => ["eval", "--checkpoint", CheckpointFrom("badconfig",
                SafeTensors.Read(GoodCheckpoint).Metadata.ToDictionary(kv => kv.Key, kv => kv.Key == "config" ? "{\"k\":0}" : kv.Value), GoodEntries())], "k must be from 1 to 100000, got 0"),
            C("checkpoint vs data image size", _ => ["eval", "--checkpoint", GoodCheckpoint, "--data", DataWith("size", "t10k-images-idx3-ubyte", Idx(0x803, [1996, 20, 20], 1996 * 400))], "t10k-images-idx3-ubyte"),
            // resume
            C("resume folder missing", _ => ["train", "--resume", Path.Combine(_root, "no-run")], "--resume: folder not found"),
            C("resume without checkpoint", _ => ["train", "--resume", ResumeDir("empty")], "--resume: no iwae.safetensors or vae.safetensors"),
            C("resume wrong model", _ => ["train", "--resume", ResumeDir("wrong", "iwae.safetensors"), "--model", "vae"], "--resume: no vae.safetensors"),
            C("resume ambiguous", _ => ["train", "--resume", ResumeDir("both", "iwae.safetensors", "vae.safetensors")], "holds both iwae and vae checkpoints"),
            C("resume checkpoint of another kind", _ => ["train", "--resume", ResumeDir("kind", "vae.safetensors")], "holds a iwae model, not the requested vae"),
            C("observation unknown", o => Train(o, "--observation", "poisson"), "--observation must be bernoulli or gaussian, got 'poisson'"),
            C("decoder variance unknown", o => Train(o, "--observation", "gaussian", "--decoder-variance", "learned"), "--decoder-variance must be fixed, shared or per-dimension, got 'learned'"),
            C("standardize with bernoulli", o => Train(o, "--standardize"), "--standardize applies to the gaussian observation model only"),
            C("learned variance with bernoulli", o => Train(o, "--decoder-variance", "shared"), "--decoder-variance applies to the gaussian observation model only"),
            C("sigma floor negative", o => Train(o, "--observation", "gaussian", "--decoder-variance", "per-dimension", "--sigma-floor", "-0.5"), "--sigma-floor must be a positive number, got -0.5"),
            C("sigma floor with a fixed sigma", o => Train(o, "--observation", "gaussian", "--sigma-floor", "0.01"), "--sigma-floor applies to a learned decoder variance (shared or per_dimension) only"),
            C("decoder sigma with a learned one", o => Train(o, "--observation", "gaussian", "--decoder-variance", "shared", "--decoder-sigma", "0.2"), "--decoder-sigma applies to --decoder-variance fixed only"),
            C("decoder sigma zero", o => Train(o, "--observation", "gaussian", "--decoder-sigma", "0"), "--decoder-sigma must be a positive number, got 0"),
            C("test fraction zero", o => Train(o, "--test-fraction", "0"), "--test-fraction must lie strictly between 0 and 1, got 0"),
            C("test fraction one", o => Train(o, "--test-fraction", "1"), "--test-fraction must lie strictly between 0 and 1, got 1"),
            C("data file of an unknown kind", o => Train(o, "--data", DataFile("notes.txt", "1,2\n")), "notes.txt: not a data file this reads"),
            C("csv ragged", o => Train(o, "--data", DataFile("ragged.csv", "0,1\n1\n")), "ragged.csv"),
            C("csv outside [0, 1] for bernoulli", o => Train(o, "--data", DataFile("big.csv", "0,3\n1,0\n0,1\n")), "big.csv: line 1, column 2: value 3 is outside [0, 1]"),
            C("eval checkpoint is a folder", _ => ["eval", "--checkpoint", ResumeDir("folder", "iwae.safetensors")],
              "resume-folder: is a folder, not a .safetensors file; give a file in it (iwae.safetensors)"),
            C("eval checkpoint is an empty folder", _ => ["eval", "--checkpoint", ResumeDir("empty-folder")], "resume-empty-folder: is a folder, not a .safetensors file"),
            C("sample checkpoint is a folder", o => ["sample", "--checkpoint", ResumeDir("folder", "iwae.safetensors"), "--out", o], "is a folder, not a .safetensors file"),
            // interchange and scores
            C("export format unknown", _ => ["export", "--checkpoint", GoodCheckpoint, "--format", "keras", "--out", Imported], "--format must be torch or onnx, got 'keras'"),
            C("export onnx checkpoint missing", _ => ["export", "--checkpoint", Path.Combine(_root, "none.safetensors"), "--format", "onnx", "--out", Path.Combine(_root, "m")],
              "none.safetensors: file not found"),
            C("export onnx out under a file", _ => ["export", "--checkpoint", GoodCheckpoint, "--format", "onnx", "--out", Path.Combine(GoodCheckpoint, "m")],
              Path.Combine("ckpt", "iwae.safetensors") + " is a file, not a folder"),
            C("export onnx out ends in a separator", _ => ["export", "--checkpoint", GoodCheckpoint, "--format", "onnx", "--out", Path.Combine(_root, "new") + Path.DirectorySeparatorChar],
              "give the start of the files' names"),
            C("export onnx out is a folder", _ => ["export", "--checkpoint", GoodCheckpoint, "--format", "onnx", "--out", Path.Combine(_root, "ckpt")],
              "ckpt: give the start of the files' names (e.g. models/mnist writes models/mnist.encoder.onnx"),
            C("export data without test data out", _ => ["export", "--checkpoint", GoodCheckpoint, "--data", Good, "--out", Imported], "--data applies to --test-data-out only"),
            C("export checkpoint missing", _ => ["export", "--checkpoint", Path.Combine(_root, "none.safetensors"), "--out", Imported], "none.safetensors: file not found"),
            C("export test data vs model", _ => ["export", "--checkpoint", GoodCheckpoint, "--out", Imported, "--test-data-out", Path.Combine(_root, "test.safetensors"),
                "--data", DataWith("size", "t10k-images-idx3-ubyte", Idx(0x803, [1996, 20, 20], 1996 * 400))], "t10k-images-idx3-ubyte"),
            C("import missing tensor", _ => ["import", "--from", TorchWith("missing", m => m, e => e.Name == "decoder.out.bias" ? null : e), "--out", Imported],
              "ckpt-torch-missing.safetensors: missing tensor 'decoder.out.bias'"),
            C("import wrong shape", _ => ["import", "--from", TorchWith("shape", m => m, e => e.Name == "encoder.mu.weight" ? SafeTensorEntry.FromF32(e.Name, [8, 2], e.ToF32()) : e), "--out", Imported],
              "ckpt-torch-shape.safetensors: tensor 'encoder.mu.weight' has shape [8,2], expected [2,8]"),
            C("import without config, none given", _ => ["import", "--from", TorchWith("bare", _ => new Dictionary<string, string>(), e => e), "--out", Imported],
              "ckpt-torch-bare.safetensors: no model config (metadata 'iwae.config') and none was given"),
            C("import config differs from the options", _ => ["import", "--from", GoodTorch, "--out", Imported, "--hidden", "9"], "not the given iwae 784-9-50"),
            C("import of a native checkpoint", _ => ["import", "--from", GoodCheckpoint, "--out", Imported, "--hidden", "8", "--latent", "2", "--k", "2"],
              "unexpected tensor '"),
            C("import into a folder that is a file", _ => ["import", "--from", GoodTorch, "--out", Path.Combine(GoodTorch, "x.safetensors")], "torch.safetensors is a file, not a folder"),
            C("score k zero", _ => ["score", "--checkpoint", GoodCheckpoint, "--k", "0", "--out", Imported], "--k must be from 1 to 1000000, got 0"),
            C("score into a folder that is a file", _ => ["score", "--checkpoint", GoodCheckpoint, "--k", "2", "--out", Path.Combine(GoodCheckpoint, "s.csv")], "iwae.safetensors is a file, not a folder"),
            C("score checkpoint without config", _ => ["score", "--checkpoint", CheckpointFrom("noconfig",
                SafeTensors.Read(GoodCheckpoint).Metadata.Where(kv => kv.Key != "config").ToDictionary(), GoodEntries()), "--out", Imported], "no model config"),
            C("plot results.json not JSON", _ => ["plot", "--run", RunWithResults("syntax", "{\"models\": [")], "results.json: not a valid results.json"),
            C("plot results.json without models", _ => ["plot", "--run", RunWithResults("nomodels", "{\"models\": 3}")], "results.json: not a valid results.json"),
            C("plot results.json with a bad config", _ => ["plot", "--run", RunWithResults("config", "{\"models\": [{\"model\": \"iwae\"}], \"config\": {\"k\": 0}}")], "results.json: not a valid results.json"),
            C("plot results.json missing", _ => ["plot", "--run", ResumeDir("noresults", "iwae.safetensors")], "results.json: file not found"),
        };
        return cases.Select(c => new TestCaseData(c).SetName($"BadInput({c.Name})"));
    }

    private static Dictionary<string, string> Snapshot() =>
        Directory.GetFiles(_root, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [TestCaseSource(nameof(Cases))]
    public void BadInput(Case c)
    {
        string outDir = Path.Combine(_root, "out-" + Guid.NewGuid().ToString("N")[..6]);
        var args = c.Args(outDir);   // builds any bad file first
        var before = Snapshot();
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = IwaeCommand.Run(args, o, e);
        string err = e.ToString();
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), $"exit code; stderr: {err}");
        Assert.That(err, Does.Contain(c.Message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.StartWith("iwae: ").And.Not.Contain("   at "));
        Assert.That(Directory.Exists(outDir), Is.False, "no output folder");
        Assert.That(Snapshot(), Is.EqualTo(before), "no file created or changed");
    }

    [Test]
    public void TheTableHasAtLeastThirtyCases() => Assert.That(Cases().Count(), Is.GreaterThanOrEqualTo(30));
}
