using System.Diagnostics;
using Iwae.Core.Checkpoints;

namespace Iwae.Tests.Cli;

/// <summary>
/// A training process killed with SIGKILL mid-run and resumed from its last checkpoint ends with parameters
/// bit-identical to an uninterrupted run with the same seed and thread count.
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

    private static Process Start(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "iwae.dll");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
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
}
