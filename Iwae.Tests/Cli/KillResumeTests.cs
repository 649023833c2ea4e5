using System.Diagnostics;
using Iwae.Core.Checkpoints;
using Iwae.Experiments;

namespace Iwae.Tests.Cli;

/// <summary>
/// A training process killed with SIGKILL mid-run and resumed from its last checkpoint ends with parameters
/// bit-identical to an uninterrupted run with the same seed and thread count; one sent SIGTERM in its final
/// evaluation exits at once, its checkpoint untouched, and resuming it evaluates again.
/// </summary>
[NonParallelizable]
public class KillResumeTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "iwae-kill-" + Guid.NewGuid().ToString("N")[..8]));

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Args =
        ["train", "--model", "iwae", "--epochs", "12", "--hidden", "48", "--latent", "4", "--k", "3", "--batch", "20", "--eval-k", "5", "--seed", "7", "--threads", "1"];

    private static ProcessStartInfo Iwae(string[] args) => CliRun.ChildProcess(args);

    private static Process Start(params string[] args)
    {
        var p = Process.Start(Iwae(args))!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>A running `iwae` whose stdout lines are kept as they come.</summary>
    private sealed class Watched : IDisposable
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public Process Process { get; }

        public Watched(params string[] args)
        {
            Process = Process.Start(Iwae(args))!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public string Output => string.Join("\n", _lines);

        /// <summary>Waits until a line contains <paramref name="text"/>; false when the process ended or the time ran out first.</summary>
        public bool WaitFor(string text, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (!_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                if (Process.HasExited || sw.Elapsed > timeout) return false;
                Thread.Sleep(5);
            }
            return true;
        }

        /// <summary>Sends SIGTERM, as Slurm, Kubernetes or `kill` do.</summary>
        public void Terminate()
        {
            using var kill = Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    [Test]
    public void Sigterm_InTheFinalEvaluation_Exits130AtOnce_KeepsTheCheckpoint_AndResumeEvaluates()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Ignore("sends a POSIX signal");
        string run = Path.Combine(_dir, "run"), ckpt = Path.Combine(run, "iwae.safetensors");
        // At k = 5000 on 1996 test images the final evaluation takes tens of seconds on one thread.
        using (var p = new Watched("train", "--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "5000", "--threads", "1", "--out", run))
        {
            Assert.That(p.WaitFor("evaluating log p(x) at k=5000", TimeSpan.FromMinutes(2)), Is.True, p.Output);
            Thread.Sleep(300);      // into the evaluation proper
            Assert.That(p.Process.HasExited, Is.False, "still evaluating");
            byte[] before = File.ReadAllBytes(ckpt);
            var sw = Stopwatch.StartNew();
            p.Terminate();
            Assert.That(p.Process.WaitForExit(TimeSpan.FromSeconds(10)), Is.True, "exits after SIGTERM");
            TestContext.Out.WriteLine($"exited {sw.Elapsed.TotalMilliseconds:F0} ms after SIGTERM");
            Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "an evaluation stops at its next chunk");
            Assert.That(p.Process.ExitCode, Is.EqualTo(130), p.Output);
            Assert.That(p.Output, Does.Contain("interrupted in the final evaluation"));
            Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before), "the training checkpoint, byte for byte");
            Assert.That(File.Exists(Path.Combine(run, "results.json")), Is.False);
        }
        // Resuming a run whose training is done evaluates it (here at a k given anew, to keep the test short).
        using (var p = new Watched("train", "--resume", run, "--eval-k", "20"))
        {
            Assert.That(p.Process.WaitForExit(TimeSpan.FromMinutes(2)), Is.True);
            p.Process.WaitForExit();
            Assert.That(p.Process.ExitCode, Is.Zero, p.Output);
            Assert.That(p.Output, Does.Contain("iwae k=5: test NLL (k=20)").And.Not.Contain("epoch 1/1"), "evaluated, not trained again");
        }
        var results = new RunFolder(run).ReadResults();
        Assert.That((results.Models[0].EvalK, results.Models[0].Epochs), Is.EqualTo((20, 1)));
    }

    private static void RunToEnd(params string[] args)
    {
        using var p = Start(args);
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(3)), Is.True, "finished in time");
        Assert.That(p.ExitCode, Is.Zero, string.Join(" ", args));
    }

    private static float[] Weights(string path) =>
        Checkpoint.Load(path).Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => kv.Value.Values).ToArray();

    /// <summary>The epochs a checkpoint records, 0 while there is none (it appears atomically, by rename).</summary>
    private static int EpochsDone(string ckpt) =>
        File.Exists(ckpt) ? int.Parse(Checkpoint.Load(ckpt).Metadata["trainer.epochs_done"], System.Globalization.CultureInfo.InvariantCulture) : 0;

    [Test]
    public void SigkillMidRun_ThenResume_GivesBitIdenticalParameters()
    {
        string full = Path.Combine(_dir, "full"), killed = Path.Combine(_dir, "killed");
        var clock = Stopwatch.StartNew();
        RunToEnd([.. Args, "--out", full]);
        TestContext.Out.WriteLine($"uninterrupted run: {clock.Elapsed.TotalSeconds:F1}s");

        string ckpt = Path.Combine(killed, "iwae.safetensors");
        using (var p = Start([.. Args, "--out", killed]))
        {
            // Kill once a later epoch's checkpoint is down, so the resume has both restored state and work left.
            // Polling the file (not sleeping a fixed time) keeps this independent of the machine's speed.
            var sw = Stopwatch.StartNew();
            while (EpochsDone(ckpt) < 2 && !p.HasExited && sw.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(2);
            Assert.That(p.HasExited, Is.False, "the run must still be going when it is killed");
            p.Kill(entireProcessTree: true);                // SIGKILL: no handler runs
            p.WaitForExit();
        }
        string epochs = Checkpoint.Load(ckpt).Metadata["trainer.epochs_done"];
        TestContext.Out.WriteLine($"killed after the checkpoint of epoch {epochs}");
        Assert.That(int.Parse(epochs), Is.InRange(2, 11), "killed after epoch 2's checkpoint, before the end");
        Assert.That(Directory.GetFiles(killed, "*.safetensors"), Has.Length.EqualTo(1), "only complete checkpoints remain");

        TestContext.Out.WriteLine($"killed at {clock.Elapsed.TotalSeconds:F1}s");
        RunToEnd("train", "--resume", killed, "--threads", "1");
        TestContext.Out.WriteLine($"resumed run done at {clock.Elapsed.TotalSeconds:F1}s");
        Assert.That(Weights(ckpt), Is.EqualTo(Weights(Path.Combine(full, "iwae.safetensors"))));
    }

    /// <summary>
    /// With a validation split and early stopping, the resumed run ends as the uninterrupted one: the same weights, the
    /// same best weights (in the checkpoint and in iwae-best.safetensors), the same validation state and history, and the
    /// same verdict in results.json.
    /// </summary>
    [Test]
    public void SigkillMidRun_WithValidation_ThenResume_KeepsTheBestWeightsAndTheHistory()
    {
        string[] args = [.. Args, "--validation-fraction", "0.2", "--patience", "4"];
        string full = Path.Combine(_dir, "full"), killed = Path.Combine(_dir, "killed");
        RunToEnd([.. args, "--out", full]);

        string ckpt = Path.Combine(killed, "iwae.safetensors");
        using (var p = Start([.. args, "--out", killed]))
        {
            var sw = Stopwatch.StartNew();
            while (EpochsDone(ckpt) < 2 && !p.HasExited && sw.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(2);
            Assert.That(p.HasExited, Is.False, "the run must still be going when it is killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        var atKill = Checkpoint.Load(ckpt).Metadata;
        TestContext.Out.WriteLine($"killed after epoch {atKill["trainer.epochs_done"]}, best epoch then {atKill["validation.best_epoch"]}");
        Assert.That(int.Parse(atKill["validation.best_epoch"]), Is.GreaterThan(0), "the checkpoint holds a validation state with a best epoch");
        RunToEnd("train", "--resume", killed, "--threads", "1");

        string fullCkpt = Path.Combine(full, "iwae.safetensors");
        Assert.That(Weights(ckpt), Is.EqualTo(Weights(fullCkpt)), "last and best weights (best.*) alike");
        Assert.That(Weights(Path.Combine(killed, "iwae-best.safetensors")), Is.EqualTo(Weights(Path.Combine(full, "iwae-best.safetensors"))));
        var a = Checkpoint.Load(ckpt).Metadata;
        var b = Checkpoint.Load(fullCkpt).Metadata;
        foreach (var key in new[] { "validation.best_bound", "validation.best_epoch", "validation.epochs_since_best", "trainer.epochs_done" })
            Assert.That(a[key], Is.EqualTo(b[key]), key);

        static double?[] History(string run) => new RunFolder(run).ReadMetrics("iwae").GroupBy(m => m.Epoch).OrderBy(g => g.Key).Select(g => g.Last().ValidationBound).ToArray();
        Assert.That(History(killed), Is.EqualTo(History(full)).And.All.Not.Null, "each epoch's validation bound");
        var (rk, rf) = (new RunFolder(killed).ReadResults().Models[0], new RunFolder(full).ReadResults().Models[0]);
        Assert.That(rk.Validation! with { Checkpoint = null }, Is.EqualTo(rf.Validation! with { Checkpoint = null }));
        Assert.That(rk.TestNll, Is.EqualTo(rf.TestNll), "evaluated on the same (best) weights");
    }
}
