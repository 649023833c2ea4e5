using Iwae.Autodiff;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

/// <summary>
/// A checkpoint records its data so that reading it from any folder finds the same data or refuses clearly: the full
/// path (not as typed), a fingerprint (shape, SHA-256 of the values), data held in memory as such; checkpoints written
/// before the record existed stay readable.
/// </summary>
public class DataRecordTests : TempDirTests
{
    private static readonly ModelConfig Config = new() { K = 2, Hidden = [4], Latent = 2 };
    private static readonly TrainOptions Options = new() { Epochs = 1, Seed = 3 };

    private static float[] Values(int n, int seed) => [.. Enumerable.Range(0, n).Select(i => (float)((i * 37 + seed) % 101) / 100)];

    private string Npy(string name, int rows, int cols, int seed = 0)
        => Write(name, ReaderFiles.Npy("<f4", false, [rows, cols], Bytes(Values(rows * cols, seed))));

    private RunSettings Settings(string? data, string run) => new() { Data = data, OutDir = Path.Combine(Dir, run), EvalK = 3, StageEvalK = 0 };

    private RunCheckpoint Train(string? data, string run = "run")
    {
        Runs.Train(Config, Options, Settings(data, run));
        return RunCheckpoint.Read(Path.Combine(Dir, run, "iwae.safetensors"));
    }

    [Test]
    public void ARelativeDataPath_IsRecordedInFull_InTheCheckpointAndResults()
    {
        string full = Npy("x.npy", 40, 5);
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), full);
        Assume.That(Path.IsPathRooted(relative), Is.False, "the temp folder is reachable by a relative path");

        var checkpoint = Train(relative);

        Assert.That(checkpoint.Settings().Data, Is.EqualTo(full), "eval and score find it from any folder");
        Assert.That(new RunFolder(Path.Combine(Dir, "run")).ReadResults().Data, Is.EqualTo(full));
        var record = checkpoint.TrainedOn()!;
        Assert.That((record.Kind, record.Location, record.Shape), Is.EqualTo((DataKind.Path, full, "train 36x5, test 4x5")));
        Assert.That(record.Sha256, Has.Length.EqualTo(64));
        Assert.That(Runs.Evaluate(checkpoint, checkpoint.Settings()).TestNll, Is.GreaterThan(0));
    }

    [Test]
    public void ChangedOrMissingData_AreRefused_NamingThePathAndWhatDiffers_AndDataGivesOther()
    {
        string path = Npy("x.npy", 40, 5);
        string ckpt = Path.Combine(Dir, "run", "iwae.safetensors");
        var checkpoint = Train(path);

        Npy("x.npy", 40, 5, seed: 1);      // same shape, other values
        var e = Assert.Throws<DataFormatException>(() => Runs.Evaluate(checkpoint, checkpoint.Settings()))!;
        Assert.That(e.Message, Does.StartWith($"{path}: these data differ from those checkpoint {ckpt} was trained on (the same shape (train 36x5, test 4x5), other values: SHA-256 "));
        Assert.That(e.Message, Does.EndWith("give the data to use with --data"));

        Npy("x.npy", 50, 5);
        e = Assert.Throws<DataFormatException>(() => Runs.Evaluate(checkpoint, checkpoint.Settings()))!;
        Assert.That(e.Message, Does.Contain("(train 45x5, test 5x5 now; train 36x5, test 4x5 then)"));

        File.Delete(path);
        e = Assert.Throws<DataFormatException>(() => Runs.Evaluate(checkpoint, checkpoint.Settings()))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: not found: checkpoint {ckpt} was trained on the data there; give the data to use with --data"));

        string other = Npy("other.npy", 30, 5, seed: 2);
        Assert.That(Runs.Evaluate(checkpoint, checkpoint.Settings(data: other)).TestNll, Is.GreaterThan(0), "--data: other data, not checked");
    }

    [Test]
    public void InMemoryData_AreRecordedAsSuch_AndReadingThemAsksForData()
    {
        var x = Tensor<float>.Zeros(30, 20);
        var values = Values(600, 5);
        values.CopyTo(x.Span);
        var (train, test) = DataSource.Split(Dataset.Vectors(x), 0.2);
        var config = Config with { InputSize = 20 };
        var settings = Settings(null, "mem");
        new RunFolder(settings.OutDir!).Create();
        Runs.TrainAndEvaluate(config, Options, settings, new Runs.Data(train, test, Binarize.Fixed(test.Images, 1), 1));
        string ckpt = Path.Combine(Dir, "mem", "iwae.safetensors");
        var checkpoint = RunCheckpoint.Read(ckpt);

        var e = Assert.Throws<ArgumentException>(() => Runs.Evaluate(checkpoint, checkpoint.Settings()))!;
        Assert.That(e.Message, Is.EqualTo($"--data is needed: checkpoint {ckpt} was trained on data held in memory (built by a program, not read from a file), which it cannot load again"),
            "not the embedded subset in its place");
        Assert.That(checkpoint.TrainedOn()!.Kind, Is.EqualTo(DataKind.InMemory));
        Assert.That(checkpoint.Settings().Data, Is.Null);

        var (code, _, err) = Cli.CliRun.Run("score", "--checkpoint", ckpt, "--k", "2", "--out", Path.Combine(Dir, "s.csv"));
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err.TrimEnd(), Is.EqualTo($"iwae: --data is needed: checkpoint {ckpt} was trained on data held in memory (built by a program, not read from a file), which it cannot load again"));
        string given = Write("given.npy", ReaderFiles.Npy("<f4", false, [10, 20], Bytes(Values(200, 1))));
        Assert.That(Runs.Evaluate(checkpoint, checkpoint.Settings(data: given)).TestNll, Is.GreaterThan(0));
    }

    [Test]
    public void TheEmbeddedSubset_IsRecordedAsSuch_AndChecked()
    {
        var checkpoint = Train(null);
        var record = checkpoint.TrainedOn()!;
        Assert.That((record.Kind, record.Location, record.Shape), Is.EqualTo((DataKind.Embedded, "", "train 8004x784, test 1996x784")));
        Assert.That(checkpoint.Settings().Data, Is.Null, "the subset ships with the tool: found on any machine");
        Assert.That(new RunFolder(Path.Combine(Dir, "run")).ReadResults().Data, Is.EqualTo(Mnist.SubsetFolder));
        var data = Runs.LoadData(checkpoint.Settings());
        Assert.That(data.Train.Count, Is.EqualTo(8004));
        Assert.That(DataRecord.Of(Mnist.SubsetName, data.Train, data.Test) with { Checkpoint = "" }, Is.EqualTo(record with { Checkpoint = "" }), "--data mnist-subset is the same");
    }

    [Test]
    public void OldCheckpoints_WithTheDataAsTypedAndNoFingerprint_StayReadable()
    {
        string path = Npy("x.npy", 40, 5);
        var (train, test) = DataSource.Load(path);
        var model = Runs.CreateModel(Config with { InputSize = 5 }, train, 1);
        string ckpt = Path.Combine(Dir, "old.safetensors");
        RunCheckpointSettings.Save(ckpt, model, new Trainer(model, train, Options), new RunSettings { Data = "x.npy" });
        var meta = SafeTensors.Read(ckpt).Metadata;
        Assert.That(meta.Keys, Has.No.Member("data_kind"), "as written before the record existed");

        var checkpoint = RunCheckpoint.Read(ckpt);
        Assert.That(checkpoint.TrainedOn(), Is.Null);
        Assert.That(checkpoint.Settings().Data, Is.EqualTo("x.npy"), "as typed, resolved from the current folder as before");
        Assert.That(Runs.Evaluate(checkpoint, checkpoint.Settings(data: path) with { EvalK = 2 }).TestNll, Is.GreaterThan(0));
    }
}
