using Iwae.Cli;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `iwae sweep` end to end on the embedded data: the Table 1 preset at one stage with small layers, planned (with its
/// time estimate), run here, followed and collected into the paper's layout; and the one-line errors.
/// </summary>
[NonParallelizable]
public class SweepCliTests : TempDirTests
{
    protected override bool CreateDir => false;


    [Test]
    public void Table1Preset_PlanRunAllAndCollect_OnTheEmbeddedData_RendersTheTable()
    {
        var (code, output, err) = Run("sweep", "plan", "--preset", "burda-table1", "--stages", "1", "--hidden", "16", "--latent", "4",
            "--eval-k", "20", "--threads", "2", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Contain("sweep: 12 runs").And.Contain("l2-iwae-k50").And.Contain("total: ~"));
        Assert.That(output, Does.Match(@"l1-iwae-k50 +784-16-4 k=50 1 epochs +~"), "each run's estimate");

        var (c1, s1, _) = Run("sweep", "status", Dir);
        Assert.That(c1, Is.Zero);
        Assert.That(s1, Does.Contain("12 pending"));

        var (c2, o2, e2) = Run("sweep", "run", Dir, "--all", "--parallel", "2", "--threads", "1");
        Assert.That(c2, Is.Zero, e2 + o2);
        Assert.That(o2, Does.Contain("12 of 12 runs done, 0 failed"));

        var (c3, o3, e3) = Run("sweep", "collect", Dir);
        Assert.That(c3, Is.Zero, e3);
        TestContext.Out.WriteLine(o3);
        Assert.That(o3, Does.Match(@"\s+2\s+50\s+\d+\.\d\d\s+\d+\.\d\d\s+-\s+-"), "the layers = 2, k = 50 row, ours (the paper's are for full MNIST)");
        string html = File.ReadAllText(Path.Combine(Dir, SweepFolder.ReportFile));
        Assert.That(html, Does.Contain("Table 1 (Burda et al. 2016)").And.Contain("<th>layers</th><th>k</th><th>VAE</th><th>IWAE</th>"));
        Assert.That(File.ReadAllLines(Path.Combine(Dir, SweepFolder.ResultsCsvFile)), Has.Length.EqualTo(13));

        var (c4, s4, _) = Run("sweep", "status", Dir);
        Assert.That(c4, Is.Zero);
        Assert.That(s4, Does.Contain("12 done"));
        var (c5, o5, _) = Run("sweep", "run", Dir, "--task", "3");
        Assert.That(c5, Is.Zero);
        Assert.That(o5, Does.Contain("l1-iwae-k1: done already"));
    }

    [TestCase(new[] { "sweep", "plan", "--out", "X" }, "give exactly one of --preset, --grid and --shapes")]
    [TestCase(new[] { "sweep", "plan", "--preset", "table9", "--out", "X" }, "--preset must be burda-table1, got 'table9'")]
    [TestCase(new[] { "sweep", "plan", "--grid", "k=0", "--no-estimate", "--out", "X" }, "--grid: k=0")]
    [TestCase(new[] { "sweep", "run", "X", "--task", "0" }, "sweep.json: file not found (not a sweep folder")]
    [TestCase(new[] { "sweep", "status", "X" }, "sweep.json: file not found")]
    public void BadInput_IsOneLine_NothingWritten(string[] args, string message)
    {
        var (code, _, err) = Run([.. args.Select(a => a == "X" ? Dir : a)]);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), err);
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(Directory.Exists(Dir), Is.False);
    }

    [Test]
    public void SlurmAndK8s_WriteTheirFilesIntoTheSweepFolder()
    {
        Assert.That(Run("sweep", "plan", "--grid", "seed=1,2,3", "--epochs", "1", "--hidden", "8", "--latent", "2", "--no-estimate", "--out", Dir).Code, Is.Zero);
        var (c1, o1, e1) = Run("sweep", "slurm", Dir, "--cpus", "4", "--time", "1-06:00:00", "--max-concurrent", "2", "--command", "dotnet /opt/iwae/iwae.dll");
        Assert.That(c1, Is.Zero, e1);
        Assert.That(o1, Does.Contain("sbatch"));
        string sbatch = File.ReadAllText(Path.Combine(Dir, SweepFolder.SbatchFile));
        Assert.That(sbatch, Does.Contain("#SBATCH --array=0-2%2").And.Contain("#SBATCH --cpus-per-task=4").And.Contain("#SBATCH --time=1-06:00:00")
            .And.Contain("#SBATCH --requeue").And.Contain("dotnet /opt/iwae/iwae.dll"));

        var (c2, _, e2) = Run("sweep", "k8s", Dir, "--image", "registry.example.org/iwae:0.1.0", "--claim", "sweeps", "--cpus", "3");
        Assert.That(c2, Is.Zero, e2);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, SweepFolder.KubernetesFile)));
        var spec = doc.RootElement.GetProperty("spec");
        Assert.That(spec.GetProperty("completionMode").GetString(), Is.EqualTo("Indexed"));
        Assert.That(spec.GetProperty("completions").GetInt32(), Is.EqualTo(3));
        var container = spec.GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        Assert.That(container.GetProperty("image").GetString(), Is.EqualTo("registry.example.org/iwae:0.1.0"));
        Assert.That(string.Join(" ", container.GetProperty("args").EnumerateArray().Select(a => a.GetString())), Is.EqualTo("sweep run /sweep --threads 3"));

        var (c3, _, e3) = Run("sweep", "k8s", Dir, "--claim", "sweeps");
        Assert.That(c3, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e3, Does.Contain("--image: give the container image"));
        var (c4, _, e4) = Run("sweep", "slurm", Dir, "--time", "forever");
        Assert.That(c4, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e4, Does.Contain("--time must be HH:MM:SS or D-HH:MM:SS"));

        // The counts the generators and the runner check are named by the options that set them.
        foreach (var (args, message) in new (string[], string)[]
        {
            (["sweep", "slurm", Dir, "--cpus", "0"], "iwae: --cpus must be from 1 to 1024, got 0"),
            (["sweep", "k8s", Dir, "--image", "registry.example.org/iwae:0.1.0", "--claim", "sweeps", "--cpus", "2000"], "iwae: --cpus must be from 1 to 1024, got 2000"),
            (["sweep", "run", Dir, "--all", "--parallel", "0"], "iwae: --parallel must be from 1 to 1024, got 0"),
            (["sweep", "run", Dir, "--task", "0", "--threads", "0"], "iwae: --threads must be from 1 to 1024, got 0"),
        })
        {
            var (c, _, e) = Run(args);
            Assert.That((c, e.TrimEnd()), Is.EqualTo((IwaeCommand.BadInput, message)), string.Join(" ", args));
        }
        var sweep = new SweepFolder(Dir);
        Assert.That(sweep.States(sweep.ReadPlan(), DateTime.UtcNow).Select(st => st.Status), Is.All.EqualTo(SweepRunStatus.Pending), "no run started");
    }

    private static readonly string[] TinyGrid = ["--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "10", "--threads", "1", "--no-estimate"];

    private SweepFolder PlanTiny(string grid)
    {
        var (code, _, err) = Run(["sweep", "plan", "--grid", grid, .. TinyGrid, "--out", Dir]);
        Assert.That(code, Is.Zero, err);
        return new SweepFolder(Dir);
    }

    private static void AssertOneLine(string err, params string[] says)
    {
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.StartWith("iwae: "));
        foreach (var s in says) Assert.That(err, Does.Contain(s));
    }

    [Test]
    public void ARunThatFailedBefore_IsARefusalOnStderr_WithTheCodeItFailedWith_AndHowToRetry()
    {
        var sweep = PlanTiny("seed=1,2");
        var plan = sweep.ReadPlan();
        sweep.Run(plan.Runs[0]).Create();
        sweep.Run(plan.Runs[1]).Create();
        sweep.MarkFailed(plan.Runs[0], new NonFiniteException("the bound is NaN at epoch 3"));
        sweep.MarkFailed(plan.Runs[1], new ArgumentException("the data has 64 pixels per image, the model expects 784"));

        var (c0, o0, e0) = Run("sweep", "run", Dir, "--task", "0");
        Assert.That(c0, Is.EqualTo(IwaeCommand.Diverged), "its failure was non-finite training");
        Assert.That(o0, Is.Empty);
        AssertOneLine(e0, "s1 failed before: the bound is NaN at epoch 3", $"delete {sweep.FailedPath(plan.Runs[0])} to run it again");

        var (c1, o1, e1) = Run("sweep", "run", Dir, "--task", "1");
        Assert.That(c1, Is.EqualTo(IwaeCommand.BadInput), "bad input is not a divergence");
        Assert.That(o1, Is.Empty);
        AssertOneLine(e1, "s2 failed before: the data has 64 pixels per image", "to run it again");

        var (c2, _, e2) = Run("sweep", "run", Dir, "--all");
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput), "3 only when every failure was non-finite");
        AssertOneLine(e2, "2 of 2 runs failed");

        File.Delete(sweep.FailedPath(plan.Runs[1]));
        var (c3, o3, e3) = Run("sweep", "run", Dir, "--task", "1");
        Assert.That(c3, Is.Zero, e3);
        Assert.That(o3, Does.Contain("s2: test NLL"), "deleting the file retries it");
    }

    [Test]
    public void AHandEditedSweepJson_IsRefusedBeforeAnythingTrains()
    {
        var sweep = PlanTiny("seed=1,2");
        File.WriteAllText(sweep.Plan, File.ReadAllText(sweep.Plan).Replace("\"eval_k\": 10", "\"eval_k\": 0"));
        foreach (var args in new[] { new[] { "sweep", "run", Dir, "--task", "0" }, ["sweep", "run", Dir, "--all"], ["sweep", "status", Dir], ["sweep", "collect", Dir] })
        {
            var (code, _, err) = Run(args);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), string.Join(" ", args));
            AssertOneLine(err, sweep.Plan, "run 0 (s1): options.eval_k must be from 1 to 1000000, got 0");
        }
        Assert.That(Directory.EnumerateFileSystemEntries(sweep.RunsPath), Is.Empty, "nothing trained");

        File.WriteAllText(sweep.Plan, "{\"format\": \"iwae.net/sweep/1\", \"runs\": [{\"index\": 0, \"name\": \"a\", \"options\": 7}]}");
        var (c, _, e) = Run("sweep", "status", Dir);
        Assert.That(c, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(e, "runs[0].options: a value of the wrong type");
    }

    [Test]
    public void StatusAndCollect_ReportACorruptResultsJson_AsInvalid_AndExit2()
    {
        var sweep = PlanTiny("seed=1,2");
        Assert.That(Run("sweep", "run", Dir, "--all").Code, Is.Zero);
        var run = sweep.ReadPlan().Runs[1];
        File.WriteAllText(sweep.Run(run).Results, "{\"models\": 3}");

        var (c1, o1, e1) = Run("sweep", "status", Dir);
        Assert.That(c1, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(o1, Does.Match(@"1\s+s2\s+invalid").And.Contain("1 done, 1 invalid"));
        AssertOneLine(e1, "1 run invalid: run 1 (s2)", sweep.Run(run).Results);

        var (c2, _, e2) = Run("sweep", "collect", Dir);
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput), "not counted as done");
        AssertOneLine(e2, sweep.Run(run).Results);
        Assert.That(File.ReadAllLines(Path.Combine(Dir, SweepFolder.ResultsCsvFile))[2], Does.StartWith("1,s2,invalid,"));
    }

    [Test]
    public void PlanOnADataSetNotFetched_WarnsHowToFetchIt()
    {
        string empty = Path.Combine(Path.GetTempPath(), $"iwae-nodata-{Guid.NewGuid():N}");
        string? saved = Environment.GetEnvironmentVariable(DataSets.DirectoryVariable);
        Environment.SetEnvironmentVariable(DataSets.DirectoryVariable, empty);
        try
        {
            var (code, output, err) = Run("sweep", "plan", "--grid", "seed=1,2", "--data", "mnist", "--epochs", "1", "--out", Dir);
            Assert.That(code, Is.Zero, err);
            AssertOneLine(err, "warning: data set 'mnist' is not fetched here", "iwae data fetch mnist");
            Assert.That(output, Does.Contain("sweep: 2 runs").And.Not.Contain("total: ~"), "no estimate without the data");
            Assert.That(new SweepFolder(Dir).ReadPlan().Runs.All(r => r.Options.Data == "mnist"), Is.True);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DataSets.DirectoryVariable, saved);
        }
    }

    [Test]
    public void Plan_ResolvesTheInputSizeFromTheData()
    {
        Directory.CreateDirectory(Dir);
        string csv = Path.Combine(Dir, "d64.csv");
        var rng = new Random(3);
        File.WriteAllLines(csv, Enumerable.Range(0, 60).Select(_ => string.Join(",", Enumerable.Range(0, 64).Select(_ => rng.Next(2)))));
        var (code, output, err) = Run(["sweep", "plan", "--grid", "k=1,2", "--data", csv, .. TinyGrid, "--out", Path.Combine(Dir, "s")]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("64-8-2 k=1"), "the architecture the runs train, not 784-8-2");
        var (c2, _, e2) = Run(["sweep", "plan", "--grid", "k=1,2", "--data", Path.Combine(Dir, "none.csv"), .. TinyGrid, "--out", Path.Combine(Dir, "t")]);
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(e2, "none.csv");
        Assert.That(Directory.Exists(Path.Combine(Dir, "t")), Is.False);
    }

    [Test]
    public void Slurm_StartsThisIwaeByItsFullPath_ByDefault()
    {
        PlanTiny("seed=1,2");
        var (code, _, err) = Run("sweep", "slurm", Dir);
        Assert.That(code, Is.Zero, err);
        string expected = Iwae.Experiments.Sweeps.SlurmScript.CommandFor(Environment.ProcessPath, typeof(IwaeCommand).Assembly.Location);
        Assert.That(expected, Does.Contain("iwae.dll").And.StartWith("'/"), "this process runs iwae.dll through a dotnet host");
        Assert.That(File.ReadAllText(Path.Combine(Dir, SweepFolder.SbatchFile)), Does.Contain($"\niwae=({expected})\n"));

        Assert.That(SlurmScript.CommandFor("/opt/iwae/iwae", "/opt/iwae/iwae.dll"), Is.EqualTo("'/opt/iwae/iwae'"), "the apphost");
        Assert.That(SlurmScript.CommandFor("/usr/share/dotnet/dotnet", "/home/me/my tools/iwae.dll"), Is.EqualTo("'/usr/share/dotnet/dotnet' '/home/me/my tools/iwae.dll'"));
        Assert.That(SlurmScript.CommandFor("/opt/bin/iwae-1.0", ""), Is.EqualTo("'/opt/bin/iwae-1.0'"), "a single-file build");
    }

    [Test]
    public void Train_TakesTheRunFoldersLock_ASecondWriterIsRefused()
    {
        string run = Path.Combine(Dir, "r");
        var (c0, _, e0) = Run("train", "--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "10", "--threads", "1", "--out", run);
        Assert.That(c0, Is.Zero, e0);
        var metrics = File.ReadAllLines(Path.Combine(run, "iwae-metrics.jsonl"));
        string fresh = Path.Combine(Dir, "fresh");      // a new run's folder, which a worker has just taken
        Directory.CreateDirectory(fresh);
        using (var held = SweepLock.Acquire(run))        // a sweep's worker (or another train) writing it
        using (var heldFresh = SweepLock.Acquire(fresh))
        {
            foreach (var (args, folder) in new[] { (new[] { "train", "--resume", run }, run), (["train", "--epochs", "1", "--hidden", "8", "--latent", "2", "--out", fresh], fresh) })
            {
                var (code, _, err) = Run(args);
                Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), string.Join(" ", args));
                AssertOneLine(err, $"in use by {Environment.MachineName} pid {Environment.ProcessId}", folder);
            }
            Assert.That(File.ReadAllLines(Path.Combine(run, "iwae-metrics.jsonl")), Is.EqualTo(metrics), "no epoch written twice");
        }
        var (c1, _, e1) = Run("train", "--resume", run);
        Assert.That(c1, Is.Zero, e1);
        Assert.That(File.Exists(Path.Combine(run, SweepLock.FileName)), Is.False, "released");
    }

    [TestCase("90", 0, 1, 30, 0)]
    [TestCase("01:30:00", 0, 1, 30, 0)]
    [TestCase("45:10", 0, 0, 45, 10)]
    [TestCase("2-12", 2, 12, 0, 0)]
    [TestCase("1-06:00:00", 1, 6, 0, 0)]
    public void SlurmTime_ReadsSbatchsFormats(string text, int d, int h, int m, int s)
        => Assert.That(Iwae.Cli.Commands.Sweeps.SweepSlurmCommand.ParseSlurmTime(text), Is.EqualTo(new TimeSpan(d, h, m, s)));

    [Test]
    public void Run_WithoutATask_SaysWhereOneComesFrom()
    {
        Assert.That(Run("sweep", "plan", "--grid", "seed=1,2", "--epochs", "1", "--hidden", "8", "--latent", "2", "--no-estimate", "--out", Dir).Code, Is.Zero);
        var (code, _, err) = Run("sweep", "run", Dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain("give --task N (or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all"));
        var (c2, _, e2) = Run("sweep", "run", Dir, "--task", "2");
        Assert.That(c2, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(e2, Does.Contain("task 2 is not a run of").And.Contain("which has runs 0..1"));
    }
}
