using System.Diagnostics;
using Iwae.Core.Checkpoints;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;
using Iwae.Tests.Datasets;

namespace Iwae.Tests.Experiments.Sweeps;

/// <summary>
/// Sweeps: the task index and thread count from each source; a finished run is skipped; an interrupted run resumes
/// bit-identically; two processes racing for one run train it once; a stale lock is taken over and a fresh one is
/// respected; collect works on a partly finished sweep; plans from a grid, shapes and the Table 1 preset.
/// </summary>
[NonParallelizable]
public class SweepTests : TempDirTests
{
    /// <summary>Runs of a few seconds on 300 digits: hidden 16, latent 3, 3 epochs.</summary>
    private static SweepRunOptions Tiny(string data) => new()
    {
        Config = new ModelConfig { Hidden = [16], Latent = 3, K = 2 },
        Train = new TrainOptions { Epochs = 3, BatchSize = 20, Seed = 5 },
        Data = data,
        EvalK = 5,
    };

    private static string? _data;

    /// <summary>300 training and 60 test digits of the embedded subset as a .npz of x_train, x_test (uint8).</summary>
    private static string SmallData()
    {
        if (_data is not null) return _data;
        var (train, test) = Mnist.Load(Mnist.DefaultFolder());
        byte[] Bytes(Iwae.Core.Data.Dataset d, int n) => [.. d.Images.Span[..(n * 784)].ToArray().Select(v => (byte)Math.Round(v * 255))];
        string path = Path.Combine(Path.GetTempPath(), $"iwae-sweepdata-{Guid.NewGuid():N}.npz");
        File.WriteAllBytes(path, ReaderFiles.Npz(System.IO.Compression.CompressionLevel.Fastest,
            ("x_train", ReaderFiles.Npy("|u1", false, [300, 784], Bytes(train, 300))),
            ("x_test", ReaderFiles.Npy("|u1", false, [60, 784], Bytes(test, 60)))));
        return _data = path;
    }

    [OneTimeTearDown]
    public void RemoveData()
    {
        if (_data is not null) File.Delete(_data);
        _data = null;
    }

    private SweepFolder Plan(string name, SweepPlan plan)
    {
        var sweep = new SweepFolder(Path.Combine(Dir, name));
        sweep.WritePlan(plan);
        return sweep;
    }

    private static float[] Weights(string checkpoint) =>
        Checkpoint.Load(checkpoint).Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value.Values).ToArray();

    [Test]
    public void TaskIndex_ComesFromTaskThenSlurmThenKubernetes()
    {
        string? Env(string name, Dictionary<string, string> vars) => vars.GetValueOrDefault(name);
        var slurm = new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "7", ["JOB_COMPLETION_INDEX"] = "3" };
        var k8s = new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "3" };
        Assert.That(SweepRunner.TaskIndex(2, n => Env(n, slurm)), Is.EqualTo(2), "--task wins");
        Assert.That(SweepRunner.TaskIndex(null, n => Env(n, slurm)), Is.EqualTo(7), "then Slurm's array index");
        Assert.That(SweepRunner.TaskIndex(null, n => Env(n, k8s)), Is.EqualTo(3), "then Kubernetes' completion index");
        Assert.That(SweepRunner.TaskIndex(null, _ => null), Is.Null);
        Assert.That(() => SweepRunner.TaskIndex(null, _ => "x"), Throws.ArgumentException.With.Message.Contains("SLURM_ARRAY_TASK_ID='x'"));
        Assert.That(() => SweepRunner.TaskIndex(-1), Throws.ArgumentException);

        Assert.That(SweepRunner.ThreadsFromEnvironment(n => n == "SLURM_CPUS_PER_TASK" ? "6" : null), Is.EqualTo(6));
        Assert.That(SweepRunner.ThreadsFromEnvironment(_ => null), Is.Null, "not set: the command's --threads and its default");
        Assert.That(() => SweepRunner.ThreadsFromEnvironment(_ => "0"), Throws.ArgumentException.With.Message.Contains("SLURM_CPUS_PER_TASK='0'"));
    }

    [Test]
    public void Plans_FromAGrid_Shapes_AndTheTable1Preset()
    {
        var baseline = Tiny("x.npy");
        var grid = SweepPlanner.Grid(baseline, "model=vae,iwae;k=1,5,50;layers=1,2;seed=1,2");
        Assert.That(grid.Runs, Has.Count.EqualTo(24));
        Assert.That(grid.Runs[0].Name, Is.EqualTo("vae-k1-l1-s1"));
        Assert.That(grid.Runs[^1].Name, Is.EqualTo("iwae-k50-l2-s2"));
        Assert.That(grid.Runs[^1].Options.Config is { K: 50, Layers: 2, Model: ModelKind.Iwae } && grid.Runs[^1].Options.Train.Seed == 2, Is.True);
        Assert.That(grid.Runs.Select(r => r.Index), Is.EqualTo(Enumerable.Range(0, 24)));
        Assert.That(() => SweepPlanner.Grid(baseline, "colour=red"), Throws.ArgumentException.With.Message.Contains("unknown key 'colour'"));
        Assert.That(() => SweepPlanner.Grid(baseline, "k=0"), Throws.ArgumentException.With.Message.Contains("k=0"));

        var shapes = SweepPlanner.Shapes(baseline, [[100], [200, 200]]);
        Assert.That(shapes.Runs.Select(r => r.Name), Is.EqualTo(new[] { "h100-vae", "h100-iwae", "h200-200-vae", "h200-200-iwae" }));

        var table1 = SweepPlanner.Table1(baseline with { Train = baseline.Train with { Estimator = GradientEstimator.Dreg } });
        Assert.That(table1.Runs, Has.Count.EqualTo(12));
        Assert.That(table1.Preset, Is.EqualTo(SweepPlanner.BurdaTable1));
        Assert.That(table1.Runs.Select(r => r.Name).Take(3), Is.EqualTo(new[] { "l1-vae-k1", "l1-vae-k5", "l1-vae-k50" }));
        var l2 = table1.Runs.Single(r => r.Name == "l2-iwae-k50").Options;
        Assert.That(l2.Config.Architecture, Is.EqualTo("784-200-200-100|100-100-100-50"), "the paper's second architecture");
        Assert.That(table1.Runs.Where(r => r.Options.Config.Model == ModelKind.Vae).All(r => r.Options.Train.Estimator == GradientEstimator.Iwae), Is.True,
            "a VAE trains on its ELBO's plain gradient");

        // sweep.json round-trips; planning the same again changes nothing, another plan is refused.
        var sweep = Plan("grid", grid);
        Assert.That(sweep.ReadPlan().ToJson(), Is.EqualTo(grid.ToJson()));
        Assert.That(() => sweep.WritePlan(grid), Throws.Nothing);
        Assert.That(() => sweep.WritePlan(shapes), Throws.ArgumentException.With.Message.Contains("already holds a different sweep"));
    }

    [Test]
    public void AFinishedRun_IsSkipped_AndItsFilesAreLeftAlone()
    {
        var sweep = Plan("s", new SweepPlan { Runs = [new SweepRun(0, "only", Tiny(SmallData()))] });
        var first = SweepRunner.RunOne(sweep, 0);
        Assert.That(first.Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        var folder = sweep.Run(sweep.ReadPlan().Runs[0]);
        var stamp = File.GetLastWriteTimeUtc(folder.Checkpoint("iwae"));
        var bytes = File.ReadAllBytes(folder.Checkpoint("iwae"));
        var again = SweepRunner.RunOne(sweep, 0);
        Assert.That(again.Kind, Is.EqualTo(SweepOutcomeKind.AlreadyDone));
        Assert.That(File.ReadAllBytes(folder.Checkpoint("iwae")), Is.EqualTo(bytes));
        Assert.That(File.GetLastWriteTimeUtc(folder.Checkpoint("iwae")), Is.EqualTo(stamp));
        Assert.That(File.Exists(Path.Combine(folder.Path, SweepLock.FileName)), Is.False, "the lock is released");
        Assert.That(sweep.State(sweep.ReadPlan().Runs[0], DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Done));
    }

    [Test]
    public void ResultsOfOtherOptions_AreRefused_NotTakenForDone()
    {
        var options = Tiny(SmallData()) with { Train = Tiny(SmallData()).Train with { Epochs = 1 } };
        var sweep = Plan("replanned", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        Assert.That(SweepRunner.RunOne(sweep, 0).Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        var run = sweep.ReadPlan().Runs[0];
        string results = File.ReadAllText(sweep.Run(run).Results);

        // The same folder planned again by hand with 3 epochs: the 1-epoch results are not this run's.
        File.WriteAllText(sweep.Plan, new SweepPlan { Runs = [new SweepRun(0, "r", options with { Train = options.Train with { Epochs = 3 } })] }.ToJson());
        var e = Assert.Throws<InvalidDataException>(() => SweepRunner.RunOne(sweep, 0))!;
        Assert.That(e.Message, Does.StartWith(sweep.Run(run).Results).And.Contain("train.epochs is 1 there, 3 in sweep.json").And.Contain("delete " + sweep.Run(run).Path));
        Assert.That(File.ReadAllText(sweep.Run(run).Results), Is.EqualTo(results), "nothing changed");
        Assert.That(File.Exists(sweep.FailedPath(run)), Is.False, "not a failure of the run: its folder holds another's files");
        Assert.That(sweep.State(sweep.ReadPlan().Runs[0], DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Invalid));
    }

    [Test]
    public void ACheckpointOfAnotherSeed_IsRefused_NotResumed()
    {
        var options = Tiny(SmallData());
        var other = Plan("other", new SweepPlan { Runs = [new SweepRun(0, "r", options with { Train = options.Train with { Seed = 6 } })] });
        SweepRunner.RunOne(other, 0);
        var sweep = Plan("copied", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        var run = sweep.ReadPlan().Runs[0];
        sweep.Run(run).Create();
        File.Copy(other.Run(run).Checkpoint("iwae"), sweep.Run(run).Checkpoint("iwae"));

        var e = Assert.Throws<InvalidDataException>(() => SweepRunner.RunOne(sweep, 0))!;
        Assert.That(e.Message, Does.StartWith(sweep.Run(run).Checkpoint("iwae")).And.Contain("train.seed is 6 there, 5 in sweep.json"));
        Assert.That(File.Exists(sweep.Run(run).Metrics("iwae")) || File.Exists(sweep.Run(run).Results), Is.False, "nothing trained");
        Assert.That(File.Exists(sweep.FailedPath(run)), Is.False);
        Assert.That(File.Exists(Path.Combine(sweep.Run(run).Path, SweepLock.FileName)), Is.False, "the lock is released");

        // The run's own checkpoint, written on another thread count with another eval k, is resumed.
        var own = Plan("own", new SweepPlan { Runs = [new SweepRun(0, "r", options with { EvalK = 7 })] });
        SweepRunner.RunOne(own, 0, TestUtil.Threads(2));
        File.Delete(own.Run(run).Results);
        File.WriteAllText(own.Plan, new SweepPlan { Runs = [new SweepRun(0, "r", options)] }.ToJson());
        Assert.That(SweepRunner.RunOne(own, 0).Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        Assert.That(own.Run(run).ReadResults().EvalK, Is.EqualTo(options.EvalK), "evaluated at the plan's eval k");
    }

    [Test]
    public void AnInterruptedRun_ResumesOnAnotherThreadCount_BitIdenticalToAnUninterruptedOne()
    {
        var options = Tiny(SmallData());
        var whole = Plan("whole", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        SweepRunner.RunOne(whole, 0);

        var cut = Plan("cut", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        using (var cts = new CancellationTokenSource())
        {
            // Stop in the middle of the second epoch, as SIGTERM would: the step finishes, the checkpoint is written.
            var execution = TestUtil.Threads(2).WithCancellation(cts.Token)
                .WithProgress((Action<RunProgress>)(p => { if (p.Phase == RunPhase.Train && p.Done == 22) cts.Cancel(); }));
            Assert.That(() => SweepRunner.RunOne(cut, 0, execution), Throws.InstanceOf<OperationCanceledException>());
        }
        var run = cut.ReadPlan().Runs[0];
        Assert.That(cut.State(run, DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Interrupted));
        Assert.That(File.Exists(Path.Combine(cut.Run(run).Path, SweepLock.FileName)), Is.False, "an interrupted run releases its lock");

        var resumed = SweepRunner.RunOne(cut, 0);
        Assert.That(resumed.Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        Assert.That(Weights(cut.Run(run).Checkpoint("iwae")), Is.EqualTo(Weights(whole.Run(run).Checkpoint("iwae"))), "bit-identical weights");
        Assert.That(cut.Run(run).ReadResults().Models[0].TestNll, Is.EqualTo(whole.Run(run).ReadResults().Models[0].TestNll));
        Assert.That(cut.Run(run).ReadMetrics("iwae").Select(m => m.TrainBound), Is.EqualTo(whole.Run(run).ReadMetrics("iwae").Select(m => m.TrainBound)));
    }

    [Test]
    public void AStaleLock_IsTakenOver_AFreshOneIsRespected()
    {
        var sweep = Plan("locks", new SweepPlan { Runs = [new SweepRun(0, "a", Tiny(SmallData())), new SweepRun(1, "b", Tiny(SmallData()) with { Train = Tiny(SmallData()).Train with { Seed = 6 } })] });
        var plan = sweep.ReadPlan();
        var now = DateTime.UtcNow;
        void WriteLock(SweepRun run, DateTime heartbeat, int pid)
        {
            Directory.CreateDirectory(sweep.Run(run).Path);
            File.WriteAllText(Path.Combine(sweep.Run(run).Path, SweepLock.FileName),
                IwaeJson.Serialize(new SweepLockInfo("node-7", pid, "t" + pid, heartbeat - TimeSpan.FromHours(1), heartbeat)));
        }
        WriteLock(plan.Runs[0], now - SweepLock.StaleAfter - TimeSpan.FromSeconds(30), 4242);     // a worker that died
        WriteLock(plan.Runs[1], now, 4343);                                                        // a worker alive elsewhere

        Assert.That(sweep.State(plan.Runs[0], now).Status, Is.EqualTo(SweepRunStatus.Pending), "a stale lock is not a running run");
        Assert.That(sweep.State(plan.Runs[1], now).Status, Is.EqualTo(SweepRunStatus.Running));
        Assert.That(sweep.State(plan.Runs[1], now).Detail, Is.EqualTo("node-7 pid 4343"));

        var taken = SweepRunner.RunOne(sweep, 0);
        Assert.That(taken.Kind, Is.EqualTo(SweepOutcomeKind.Trained), taken.Message);
        var busy = SweepRunner.RunOne(sweep, 1);
        Assert.That(busy.Kind, Is.EqualTo(SweepOutcomeKind.Busy));
        Assert.That(busy.Message, Does.Contain("running on node-7 (pid 4343)"));
        Assert.That(File.Exists(sweep.Run(plan.Runs[1]).Results), Is.False, "nothing trained under another's lock");
    }

    [Test]
    public void ALockOfADeadProcessOnThisMachine_IsTakenOverAtOnce_AndATaskWaitsForALiveOne()
    {
        var sweep = Plan("dead", new SweepPlan { Runs = [new SweepRun(0, "a", Tiny(SmallData())), new SweepRun(1, "b", Tiny(SmallData()) with { Train = Tiny(SmallData()).Train with { Seed = 9 } })] });
        var plan = sweep.ReadPlan();
        void WriteLock(SweepRun run, string host, int pid)
        {
            Directory.CreateDirectory(sweep.Run(run).Path);
            File.WriteAllText(Path.Combine(sweep.Run(run).Path, SweepLock.FileName),
                IwaeJson.Serialize(new SweepLockInfo(host, pid, "t", DateTime.UtcNow, DateTime.UtcNow)));
        }
        var dead = Process.Start("true")!;
        dead.WaitForExit();
        WriteLock(plan.Runs[0], Environment.MachineName, dead.Id);        // fresh heartbeat, but its process is gone
        Assert.That(sweep.State(plan.Runs[0], DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Pending), "status applies the takeover's rule");
        Assert.That(SweepRunner.RunOne(sweep, 0).Kind, Is.EqualTo(SweepOutcomeKind.Trained));

        // A task finding a live worker's lock waits: here that worker stops (its lock goes) and the task takes the run.
        WriteLock(plan.Runs[1], "elsewhere", 1);
        var release = new Thread(() => { Thread.Sleep(400); File.Delete(Path.Combine(sweep.Run(plan.Runs[1]).Path, SweepLock.FileName)); });
        release.Start();
        var waited = Stopwatch.StartNew();
        var outcome = SweepRunner.RunOne(sweep, 1, waitWhileBusy: true, pollInterval: TimeSpan.FromMilliseconds(50));
        release.Join();
        Assert.That(outcome.Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        Assert.That(waited.ElapsedMilliseconds, Is.GreaterThanOrEqualTo(350), "it waited for the other worker");
    }

    [Test]
    public void TwoTakersOfOneStaleLock_ExactlyOneWins()
    {
        string folder = Path.Combine(Dir, "race");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, SweepLock.FileName),
            IwaeJson.Serialize(new SweepLockInfo("gone", 1, "old", DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-1))));
        for (int round = 0; round < 20; round++)
        {
            var won = new SweepLock?[8];
            using var start = new Barrier(won.Length);
            var threads = Enumerable.Range(0, won.Length).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                won[i] = SweepLock.TryAcquire(folder, out _);
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            Assert.That(won.Count(w => w is not null), Is.EqualTo(1), $"round {round}");
            var winner = won.Single(w => w is not null)!;
            // Leave a stale lock again for the next round.
            File.WriteAllText(Path.Combine(folder, SweepLock.FileName),
                IwaeJson.Serialize(new SweepLockInfo("gone", 1, "old" + round, DateTime.UtcNow.AddHours(-2), DateTime.UtcNow.AddHours(-1))));
            winner.Renew();
            Assert.That(winner.Lost.IsCancellationRequested, Is.True, "a holder whose lock was replaced learns it on its next heartbeat");
            winner.Dispose();
            Assert.That(File.Exists(Path.Combine(folder, SweepLock.FileName)), Is.True, "and does not delete a lock that is not its own");
        }
    }

    [Test]
    public void TwoProcessesRaceForOneRun_ExactlyOneTrains()
    {
        var options = Tiny(SmallData()) with { Train = Tiny(SmallData()).Train with { Epochs = 8 } };
        var sweep = Plan("procs", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        Process Start()
        {
            var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "iwae.dll"), "sweep", "run", sweep.Path, "--threads", "1" }) psi.ArgumentList.Add(a);
            psi.Environment["SLURM_ARRAY_TASK_ID"] = "0";
            return Process.Start(psi)!;
        }
        using var a = Start();
        using var b = Start();
        var outputs = new[] { a, b }.Select(p => (Out: p.StandardOutput.ReadToEndAsync(), Err: p.StandardError.ReadToEndAsync(), P: p)).ToArray();
        foreach (var (_, _, p) in outputs) Assert.That(p.WaitForExit(TimeSpan.FromMinutes(2)), Is.True);
        var texts = outputs.Select(o => o.Out.Result + o.Err.Result).ToArray();
        Assert.That(outputs.Select(o => o.P.ExitCode), Is.All.Zero, string.Join("\n---\n", texts));
        Assert.That(texts.Count(t => t.Contains("r: test NLL")), Is.EqualTo(1), string.Join("\n---\n", texts));
        Assert.That(texts.Count(t => t.Contains("r: running on") || t.Contains("r: done already")), Is.EqualTo(1), string.Join("\n---\n", texts));
        var run = sweep.ReadPlan().Runs[0];
        Assert.That(sweep.Run(run).ReadMetrics("iwae").Select(m => m.Epoch), Is.EqualTo(Enumerable.Range(1, 8)), "each epoch trained once");
    }

    [Test]
    public void Sigterm_WritesTheCheckpointWithinSeconds_Exits130_AndTheRunResumesBitIdentically()
    {
        var options = Tiny(SmallData()) with { Train = Tiny(SmallData()).Train with { Epochs = 40 } };
        var whole = Plan("whole", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        SweepRunner.RunOne(whole, 0);

        var cut = Plan("term", new SweepPlan { Runs = [new SweepRun(0, "r", options)] });
        var run = cut.ReadPlan().Runs[0];
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "iwae.dll"), "sweep", "run", cut.Path, "--task", "0", "--threads", "1" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        var wait = Stopwatch.StartNew();
        while (cut.Run(run).ReadMetrics("iwae").Count < 3 && !p.HasExited && wait.Elapsed < TimeSpan.FromMinutes(1)) Thread.Sleep(20);
        Assert.That(p.HasExited, Is.False, "still training when the signal comes");
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        var stopped = Stopwatch.StartNew();
        Assert.That(p.WaitForExit(TimeSpan.FromSeconds(20)), Is.True, "stops within seconds");
        TestContext.Out.WriteLine($"stopped {stopped.Elapsed.TotalSeconds:F2} s after SIGTERM");
        Assert.That(p.ExitCode, Is.EqualTo(130), output.Result + error.Result);
        Assert.That(error.Result, Does.Contain("the run's checkpoint is saved"));
        Assert.That(cut.State(run, DateTime.UtcNow).Status, Is.EqualTo(SweepRunStatus.Interrupted));
        Assert.That(File.Exists(Path.Combine(cut.Run(run).Path, SweepLock.FileName)), Is.False, "the lock is released");

        Assert.That(SweepRunner.RunOne(cut, 0, TestUtil.Threads(2)).Kind, Is.EqualTo(SweepOutcomeKind.Trained));
        Assert.That(Weights(cut.Run(run).Checkpoint("iwae")), Is.EqualTo(Weights(whole.Run(run).Checkpoint("iwae"))), "bit-identical after the resume");
    }

    [Test]
    public void Collect_WorksOnAPartlyFinishedSweep()
    {
        var baseline = Tiny(SmallData());
        var sweep = Plan("part", SweepPlanner.Grid(baseline, "model=vae,iwae;seed=1,2"));
        SweepRunner.RunOne(sweep, 1);
        var rows = SweepResults.Collect(sweep);
        Assert.That(rows.Select(r => r.Status), Is.EqualTo(new[] { SweepRunStatus.Pending, SweepRunStatus.Done, SweepRunStatus.Pending, SweepRunStatus.Pending }));
        Assert.That(rows[1].TestNll, Is.Not.Null);
        Assert.That(rows[0].TestNll, Is.Null);
        var (csv, json) = SweepResults.Write(sweep, rows);
        var lines = File.ReadAllLines(csv);
        Assert.That(lines, Has.Length.EqualTo(5));
        Assert.That(lines[0], Does.StartWith("index,name,status,model,k,layers"));
        Assert.That(lines[2], Does.StartWith("1,vae-s2,done,vae,2,1,"));
        Assert.That(lines[1], Does.StartWith("0,vae-s1,pending,vae,2,1,").And.EndWith(",,5,,,,"));
        Assert.That(File.ReadAllText(json), Does.Contain("\"status\":\"done\""));

        var table = SweepResults.Table1(rows, mnist: true);
        Assert.That(table, Has.Count.EqualTo(6));
        Assert.That(table.Single(t => t.Layers == 1 && t.K == 50).PaperIwae, Is.EqualTo(84.78));
        Assert.That(table.Single(t => t.Layers == 1 && t.K == 2 - 1).Vae, Is.Null, "no k = 1 run here");
    }
}
