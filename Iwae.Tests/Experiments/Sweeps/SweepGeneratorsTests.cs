using System.Diagnostics;
using System.Text.Json;
using System.Text;
using Iwae.Experiments.Sweeps;

namespace Iwae.Tests.Experiments.Sweeps;

/// <summary>
/// <see cref="KubernetesManifest"/> and <see cref="SlurmScript"/>: the manifest parses back with the fields a cluster
/// acts on; the sbatch script has the right #SBATCH lines and, run by bash with a fake iwae and a fake scontrol,
/// passes the sweep folder as one argument, stops the run on USR1 and requeues the task, and passes TERM on.
/// </summary>
public class SweepGeneratorsTests : TempDirTests
{
    private static KubernetesOptions K8s(int runs = 12) => new()
    {
        Name = "mnist-k-sweep", Runs = runs, Image = "registry.example.org/me/iwae:0.1.0", ClaimName = "sweeps",
    };

    [Test]
    public void Manifest_ParsesBack_WithTheFieldsAClusterActsOn()
    {
        string json = KubernetesManifest.Build(K8s() with { CpusPerTask = 4, Memory = "3Gi", Parallelism = 5 });
        using var doc = JsonDocument.Parse(json);
        var job = doc.RootElement;
        Assert.That(job.GetProperty("apiVersion").GetString(), Is.EqualTo("batch/v1"));
        Assert.That(job.GetProperty("kind").GetString(), Is.EqualTo("Job"));
        Assert.That(job.GetProperty("metadata").GetProperty("name").GetString(), Is.EqualTo("mnist-k-sweep"));

        var spec = job.GetProperty("spec");
        Assert.That(spec.GetProperty("completionMode").GetString(), Is.EqualTo("Indexed"));
        Assert.That(spec.GetProperty("completions").GetInt32(), Is.EqualTo(12));
        Assert.That(spec.GetProperty("parallelism").GetInt32(), Is.EqualTo(5));
        Assert.That(spec.GetProperty("backoffLimitPerIndex").GetInt32(), Is.EqualTo(3));
        Assert.That(spec.TryGetProperty("backoffLimit", out _), Is.False, "nulls are left out");
        var rule = spec.GetProperty("podFailurePolicy").GetProperty("rules")[0];
        Assert.That(rule.GetProperty("action").GetString(), Is.EqualTo("Ignore"));
        Assert.That(rule.GetProperty("onPodConditions")[0].GetProperty("type").GetString(), Is.EqualTo("DisruptionTarget"));

        var pod = spec.GetProperty("template").GetProperty("spec");
        Assert.That(pod.GetProperty("restartPolicy").GetString(), Is.EqualTo("Never"), "backoffLimitPerIndex and podFailurePolicy need it");
        Assert.That(pod.GetProperty("terminationGracePeriodSeconds").GetInt32(), Is.EqualTo(60));
        var c = pod.GetProperty("containers")[0];
        Assert.That(c.GetProperty("image").GetString(), Is.EqualTo("registry.example.org/me/iwae:0.1.0"));
        Assert.That(Strings(c.GetProperty("command")), Is.EqualTo(new[] { "iwae" }));
        Assert.That(Strings(c.GetProperty("args")), Is.EqualTo(new[] { "sweep", "run", "/sweep", "--threads", "4" }));
        Assert.That(c.TryGetProperty("env", out _), Is.False);
        var resources = c.GetProperty("resources");
        foreach (string kind in new[] { "requests", "limits" })
        {
            Assert.That(resources.GetProperty(kind).GetProperty("cpu").GetString(), Is.EqualTo("4"), kind);
            Assert.That(resources.GetProperty(kind).GetProperty("memory").GetString(), Is.EqualTo("3Gi"), kind);
        }
        var mount = c.GetProperty("volumeMounts")[0];
        Assert.That(mount.GetProperty("mountPath").GetString(), Is.EqualTo("/sweep"));
        Assert.That(mount.TryGetProperty("subPath", out _), Is.False);
        var volume = pod.GetProperty("volumes")[0];
        Assert.That(volume.GetProperty("name").GetString(), Is.EqualTo(mount.GetProperty("name").GetString()), "the mount names the volume");
        Assert.That(volume.GetProperty("persistentVolumeClaim").GetProperty("claimName").GetString(), Is.EqualTo("sweeps"));
        Assert.That(spec.GetProperty("template").GetProperty("metadata").GetProperty("labels").GetProperty("iwae-sweep").GetString(), Is.EqualTo("mnist-k-sweep"));
    }

    [Test]
    public void Manifest_Options_ReachTheirFields()
    {
        using var doc = JsonDocument.Parse(KubernetesManifest.Build(K8s(runs: 3) with
        {
            Command = ["dotnet", "/app/iwae.dll"], SweepMountPath = "/data/my sweep", SubPath = "sweeps/k", BackoffLimitPerIndex = 5,
            TerminationGracePeriodSeconds = 90, Environment = new Dictionary<string, string> { ["TZ"] = "UTC", ["A"] = "1" },
        }));
        var spec = doc.RootElement.GetProperty("spec");
        Assert.That(spec.GetProperty("parallelism").GetInt32(), Is.EqualTo(3), "min(runs, 8)");
        Assert.That(spec.GetProperty("backoffLimitPerIndex").GetInt32(), Is.EqualTo(5));
        var pod = spec.GetProperty("template").GetProperty("spec");
        Assert.That(pod.GetProperty("terminationGracePeriodSeconds").GetInt32(), Is.EqualTo(90));
        var c = pod.GetProperty("containers")[0];
        Assert.That(Strings(c.GetProperty("command")), Is.EqualTo(new[] { "dotnet", "/app/iwae.dll" }));
        Assert.That(Strings(c.GetProperty("args")), Is.EqualTo(new[] { "sweep", "run", "/data/my sweep", "--threads", "2" }));
        Assert.That(c.GetProperty("env").EnumerateArray().Select(e => e.GetProperty("name").GetString() + "=" + e.GetProperty("value").GetString()),
                    Is.EqualTo(new[] { "A=1", "TZ=UTC" }), "sorted, so the file is the same every time");
        Assert.That(c.GetProperty("volumeMounts")[0].GetProperty("subPath").GetString(), Is.EqualTo("sweeps/k"));
        Assert.That(KubernetesManifest.Build(K8s(runs: 20)), Does.Contain("\"parallelism\": 8"));
    }

    [TestCase("Mnist")]
    [TestCase("mnist_sweep")]
    [TestCase("-mnist")]
    [TestCase("mnist-")]
    [TestCase("")]
    [TestCase("a.b")]
    public void Manifest_InvalidName_IsRejected(string name) =>
        Assert.That(() => KubernetesManifest.Build(K8s() with { Name = name }),
                    Throws.ArgumentException.With.Message.Contains("not a valid Kubernetes Job name"));

    [Test]
    public void Manifest_NameLimits_AndOtherInvalidOptions()
    {
        Assert.That(() => KubernetesManifest.Build(K8s() with { Name = new string('a', 63) }), Throws.Nothing);
        Assert.That(() => KubernetesManifest.Build(K8s() with { Name = new string('a', 64) }), Throws.ArgumentException);
        Assert.That(KubernetesManifest.NameFor("/x/" + new string('b', 70)), Has.Length.EqualTo(63));
        Assert.That(() => KubernetesManifest.Build(K8s() with { Memory = "2 GB" }), Throws.ArgumentException.With.Message.Contains("quantity"));
        Assert.That(() => KubernetesManifest.Build(K8s() with { SweepMountPath = "sweep" }), Throws.ArgumentException.With.Message.Contains("absolute"));
        Assert.That(() => KubernetesManifest.Build(K8s() with { Image = "" }), Throws.ArgumentException);
        Assert.That(() => KubernetesManifest.Build(K8s() with { Runs = 0 }), Throws.ArgumentException);
        Assert.That(() => KubernetesManifest.Build(K8s() with { SubPath = "../other" }), Throws.ArgumentException);
    }

    [TestCase("/scratch/me/MNIST k-Sweep_2", "mnist-k-sweep-2")]
    [TestCase("/scratch/me/sweep/", "sweep")]
    [TestCase("/scratch/__", "iwae-sweep")]
    public void NameFor_MakesAValidName(string folder, string expected)
    {
        Assert.That(KubernetesManifest.NameFor(folder), Is.EqualTo(expected));
        Assert.That(() => KubernetesManifest.ValidateName(KubernetesManifest.NameFor(folder)), Throws.Nothing);
    }

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    // ---- Slurm ----

    /// <summary>A sweep folder whose path has a space, both quotes, a $ and a %, under the test's folder.</summary>
    private string AwkwardSweep => Path.Combine(Dir, "my sweep's \"k\" $HOME 100%");

    private static SlurmOptions Slurm(string sweep) => new() { SweepFolder = sweep, Runs = 10 };

    /// <summary>The #SBATCH lines, each as the one argument sbatch reads from it.</summary>
    private static List<string> SbatchArguments(string script) =>
        script.Split('\n').TakeWhile(l => l.StartsWith('#') || l.Length == 0)
              .Where(l => l.StartsWith("#SBATCH ", StringComparison.Ordinal)).Select(l => SbatchArgument(l["#SBATCH ".Length..])).ToList();

    /// <summary>
    /// One argument as sbatch's #SBATCH parser reads it (its _get_argument): quotes group, a backslash escapes the next
    /// character, an unquoted # ends the line.
    /// </summary>
    private static string SbatchArgument(string line)
    {
        var arg = new StringBuilder();
        int i = 0;
        while (i < line.Length && char.IsWhiteSpace(line[i])) i++;
        char quote = '\0';
        bool escape = false;
        for (; i < line.Length && (quote != '\0' || !char.IsWhiteSpace(line[i])); i++)
        {
            char ch = line[i];
            if (escape) escape = false;
            else if (ch == '\\') { escape = true; continue; }
            else if (quote != '\0') { if (ch == quote) { quote = '\0'; continue; } }
            else if (ch is '"' or '\'') { quote = ch; continue; }
            else if (ch == '#') break;
            arg.Append(ch);
        }
        Assert.That(line[i..].Trim(), Is.Empty.Or.StartsWith("#"), $"one argument per line: {line}");
        return arg.ToString();
    }

    [Test]
    public void Script_HasTheSbatchLines()
    {
        string script = SlurmScript.Build(Slurm("/scratch/me/sweep") with
        {
            MaxConcurrent = 4, CpusPerTask = 3, TimeLimit = TimeSpan.FromMinutes(90), Partition = "short", Account = "proj-7",
            ExtraSbatch = ["--mem=4G", "#SBATCH --qos=long"],
        });
        Assert.That(script, Does.StartWith("#!/bin/bash\n"));
        Assert.That(SbatchArguments(script), Is.EqualTo(new[]
        {
            "--job-name=iwae-sweep", "--array=0-9%4", "--cpus-per-task=3", "--time=01:30:00",
            "--output=/scratch/me/sweep/logs/%A_%a.out", "--error=/scratch/me/sweep/logs/%A_%a.err",
            "--open-mode=append", "--requeue", "--signal=B:USR1@120", "--partition=short", "--account=proj-7", "--mem=4G", "--qos=long",
        }));
        Assert.That(script, Does.Contain("#SBATCH --array=0-9%4\n").And.Contain("#SBATCH --signal=B:USR1@120\n"));
        Assert.That(script, Does.Contain("set -u\n"));
        Assert.That(SbatchArguments(SlurmScript.Build(Slurm("/s") with { Runs = 1 })), Does.Contain("--array=0-0"), "no %P without MaxConcurrent");
    }

    [TestCase(90 * 60, "01:30:00")]
    [TestCase(30 * 3600, "1-06:00:00")]
    [TestCase(4 * 3600, "04:00:00")]
    [TestCase(24 * 3600, "1-00:00:00")]
    [TestCase(3 * 86400 + 59, "3-00:00:59")]
    [TestCase(59.2, "00:01:00")]
    public void TimeLimit_IsFormattedAsSbatchWantsIt(double seconds, string expected)
    {
        Assert.That(SlurmScript.FormatTime(TimeSpan.FromSeconds(seconds)), Is.EqualTo(expected));
        if (seconds > 120)
            Assert.That(SlurmScript.Build(Slurm("/s") with { TimeLimit = TimeSpan.FromSeconds(seconds) }), Does.Contain($"#SBATCH --time={expected}\n"));
    }

    [Test]
    public void Script_RejectsOptionsSlurmWouldMisread()
    {
        Assert.That(() => SlurmScript.Build(Slurm("relative/sweep")), Throws.ArgumentException.With.Message.Contains("absolute"));
        Assert.That(() => SlurmScript.Build(Slurm("/a\\b")), Throws.ArgumentException.With.Message.Contains("backslash"));
        Assert.That(() => SlurmScript.Build(Slurm("/a\nb")), Throws.ArgumentException.With.Message.Contains("line break"));
        Assert.That(() => SlurmScript.Build(Slurm("/s") with { Runs = 0 }), Throws.ArgumentException);
        Assert.That(() => SlurmScript.Build(Slurm("/s") with { MaxConcurrent = 0 }), Throws.ArgumentException);
        Assert.That(() => SlurmScript.Build(Slurm("/s") with { TimeLimit = TimeSpan.FromMinutes(2) }),
                    Throws.ArgumentException.With.Message.Contains("shorter than the time limit"), "USR1 at the start would requeue for ever");
    }

    [Test]
    public void AwkwardSweepPath_IsOneArgument_ForSbatchAndForBash()
    {
        string sweep = AwkwardSweep;
        string script = SlurmScript.Build(Slurm(sweep));
        string logs = sweep.Replace("%", "%%") + "/logs/";
        Assert.That(SbatchArguments(script), Does.Contain("--output=" + logs + "%A_%a.out").And.Contain("--error=" + logs + "%A_%a.err"),
                    "sbatch reads the quoted path back, with % doubled for its file name patterns");
        var (code, stderr) = RunBash(["-n", Write("sweep.sbatch", script)], new(), TimeSpan.FromSeconds(5));
        Assert.That(code, Is.Zero, stderr);
    }

    [Test]
    public void Script_RunsTheSweepWithTheFolderAsOneArgument_AndExitsWithItsCode()
    {
        var task = StartTask(FakeMode.Finish);
        Assert.That(task.Process.WaitForExit(TimeSpan.FromSeconds(5)), Is.True, "the script ended");
        Assert.That(task.Process.ExitCode, Is.Zero, task.Stderr);
        Assert.That(ReadArgs("argv"), Is.EqualTo(new[] { "sweep", "run", AwkwardSweep }));
        Assert.That(File.Exists(Path.Combine(Dir, "scontrol-args")), Is.False, "a finished run is not requeued");
    }

    [Test]
    public void Usr1_StopsTheRun_RequeuesTheTask_AndExitsZero()
    {
        var task = StartTask(FakeMode.WaitForTerm);
        Signal(task.Process, "USR1");
        Assert.That(task.Process.WaitForExit(TimeSpan.FromSeconds(5)), Is.True, "the script ended");
        Assert.That(task.Process.ExitCode, Is.Zero, task.Stderr);
        Assert.That(File.ReadAllText(Path.Combine(Dir, "signals")), Is.EqualTo("TERM\n"), "the run got SIGTERM, once");
        Assert.That(ReadArgs("scontrol-args"), Is.EqualTo(new[] { "requeue", "8123_4" }));
    }

    [Test]
    public void Term_IsPassedToTheRun_AndTheScriptExitsWithItsCode130()
    {
        var task = StartTask(FakeMode.WaitForTerm);
        Signal(task.Process, "TERM");
        Assert.That(task.Process.WaitForExit(TimeSpan.FromSeconds(5)), Is.True, "the script ended");
        Assert.That(task.Process.ExitCode, Is.EqualTo(SlurmScript.StoppedExitCode), task.Stderr);
        Assert.That(File.ReadAllText(Path.Combine(Dir, "signals")), Is.EqualTo("TERM\n"));
        Assert.That(File.Exists(Path.Combine(Dir, "scontrol-args")), Is.False, "only a USR1 stop requeues");
    }

    [Test]
    public void TermDuringAUsr1Stop_IsACancellation_NotARequeue()
    {
        var task = StartTask(FakeMode.WaitForTerm, checkpointSeconds: 1);
        Signal(task.Process, "USR1");
        var sw = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(Dir, "signals")) && sw.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
        Signal(task.Process, "TERM");               // scancel while the run writes its checkpoint
        Assert.That(task.Process.WaitForExit(TimeSpan.FromSeconds(5)), Is.True, "the script ended");
        Assert.That(task.Process.ExitCode, Is.EqualTo(SlurmScript.StoppedExitCode), task.Stderr);
        Assert.That(File.ReadAllText(Path.Combine(Dir, "signals")), Is.EqualTo("TERM\n"), "the run got SIGTERM once, not once per signal");
        Assert.That(File.Exists(Path.Combine(Dir, "scontrol-args")), Is.False);
    }

    private enum FakeMode { Finish, WaitForTerm }

    private sealed record RunningTask(Process Process, StringBuilder Err)
    {
        public string Stderr { get { lock (Err) return Err.ToString(); } }
    }

    /// <summary>
    /// Writes a fake iwae (records its arguments NUL-separated in argv; on SIGTERM appends TERM to signals, takes
    /// <paramref name="checkpointSeconds"/> to "write its checkpoint" and exits 130)
    /// and a fake scontrol (records its arguments in scontrol-args), then starts the generated script as array task 4
    /// of job 8123; returns once the fake runs.
    /// </summary>
    private RunningTask StartTask(FakeMode mode, double checkpointSeconds = 0.05)
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("needs bash and POSIX signals");
        string d = SlurmScript.Quote(Dir);
        string fake = WriteExecutable("fake-iwae",
            $$"""
            #!/bin/bash
            trap 'echo TERM >> {{d}}/signals; sleep "$FAKE_CHECKPOINT"; exit 130' TERM
            printf '%s\0' "$@" > {{d}}/argv
            : > {{d}}/started
            if [ "${FAKE_MODE:-}" = wait ]; then
              for i in $(seq 100); do sleep 0.05; done    # 5 s, then fail: the test signals long before
              exit 3
            fi
            exit 0
            """);
        Directory.CreateDirectory(Path.Combine(Dir, "bin"));
        WriteExecutable(Path.Combine("bin", "scontrol"), $"#!/bin/bash\nprintf '%s\\0' \"$@\" > {d}/scontrol-args\n");
        string script = Write("sweep.sbatch", SlurmScript.Build(Slurm(AwkwardSweep) with { Command = SlurmScript.Quote(fake) }));

        var env = new Dictionary<string, string>
        {
            ["SLURM_ARRAY_JOB_ID"] = "8123", ["SLURM_ARRAY_TASK_ID"] = "4", ["SLURM_CPUS_PER_TASK"] = "2",
            ["FAKE_MODE"] = mode == FakeMode.WaitForTerm ? "wait" : "",
            ["FAKE_CHECKPOINT"] = checkpointSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PATH"] = Path.Combine(Dir, "bin") + ":" + Environment.GetEnvironmentVariable("PATH"),
        };
        var p = StartBash([script], env, out var err);
        _started.Add(p);
        var task = new RunningTask(p, err);
        var sw = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(Dir, "started")) && !p.HasExited && sw.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
        if (mode == FakeMode.WaitForTerm)
            Assert.That(File.Exists(Path.Combine(Dir, "started")) && !p.HasExited, Is.True, "the fake iwae is running: " + task.Stderr);
        return task;
    }

    private string WriteExecutable(string name, string text)
    {
        string path = Write(name, text.ReplaceLineEndings("\n"));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string[] ReadArgs(string file) => File.ReadAllText(Path.Combine(Dir, file)).TrimEnd('\0').Split('\0');

    /// <summary>Sends <paramref name="signals"/>, back to back, to <paramref name="p"/> alone (not its process group), with bash's kill.</summary>
    private static void Signal(Process p, params string[] signals)
    {
        var (code, stderr) = RunBash(["-c", string.Join("; ", signals.Select(s => $"kill -{s} {p.Id}"))], new(), TimeSpan.FromSeconds(5));
        Assert.That(code, Is.Zero, stderr);
    }

    private static Process StartBash(string[] args, Dictionary<string, string> env, out StringBuilder stderr)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception) { Assert.Ignore("bash is not installed"); throw; }
        var err = stderr = new StringBuilder();
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (err) err.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static (int Code, string Stderr) RunBash(string[] args, Dictionary<string, string> env, TimeSpan timeout)
    {
        using var p = StartBash(args, env, out var err);
        if (!p.WaitForExit(timeout)) { p.Kill(entireProcessTree: true); Assert.Fail($"bash {string.Join(' ', args)} ran past {timeout}"); }
        p.WaitForExit();
        lock (err) return (p.ExitCode, err.ToString());
    }

    [TearDown]
    public void StopLeftovers()
    {
        // A failed test may leave the script and its fake running; end them before the folder is deleted.
        foreach (var t in _started) if (!t.HasExited) t.Kill(entireProcessTree: true);
        _started.Clear();
    }

    private readonly List<Process> _started = [];
}
