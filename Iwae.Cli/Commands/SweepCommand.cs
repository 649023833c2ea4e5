using System.CommandLine;
using System.Globalization;
using Iwae.Cli.Report;
using Iwae.Core.Models;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>
/// `iwae sweep plan|run|status|collect|slurm|k8s`: many runs as plain files in one folder (<see cref="SweepFolder"/>),
/// each run idempotent, so that Slurm job arrays, Kubernetes Indexed Jobs or this machine can run them.
/// </summary>
internal static class SweepCommand
{
    private static readonly Argument<string> Folder = new("sweep") { Description = "The sweep folder (sweep.json and runs/)." };
    private static readonly Option<string?> Preset = new("--preset") { Description = $"A preset plan: {SweepPlanner.BurdaTable1} (Burda et al.'s Table 1 on --data: 1 and 2 stochastic layers x VAE, IWAE x k = 1, 5, 50; 8 stages unless --stages or --epochs is given)." };
    private static readonly Option<string?> Grid = new("--grid") { Description = $"A grid over options, e.g. \"model=vae,iwae;k=1,5,50;layers=1,2;seed=1,2\" (keys: {string.Join(", ", SweepPlanner.GridKeys)}; hidden as WIDTHxDEPTH)." };
    private static readonly Option<string?> Shapes = new("--shapes") { Description = $"A VAE and an IWAE per encoder shape, WIDTHxDEPTH separated by commas (what `compare --sweep` runs), e.g. {SweepReport.DefaultSpec}." };
    private static readonly Option<bool> NoEstimate = new("--no-estimate") { Description = "Skip the short step benchmark that estimates each run's time." };
    private static readonly Option<int?> Task = new("--task") { Description = "The run to do (0-based). Default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX." };
    private static readonly Option<bool> All = new("--all") { Description = "Run every run of the sweep on this machine (finished ones are skipped, interrupted ones resumed)." };
    private static readonly Option<int> Parallel = new("--parallel") { Description = "With --all: runs at a time, each on --threads threads.", DefaultValueFactory = _ => 1 };
    private static readonly Option<int?> RunThreads = new("--threads") { Description = "Kernel threads per run. Default: SLURM_CPUS_PER_TASK, else min(2, cores)." };

    public static Command Create(CliIo io)
    {
        var sweep = new Command("sweep", "Sweeps: plan many runs into a folder, run them one per task on Slurm (job arrays), Kubernetes (Indexed Jobs) or here, follow and collect them. Every run is idempotent: finished runs are skipped, interrupted ones resume from their checkpoint, bit-identically.");
        sweep.Subcommands.Add(PlanCommand(io));
        sweep.Subcommands.Add(RunCommand(io));
        sweep.Subcommands.Add(StatusCommand(io));
        sweep.Subcommands.Add(CollectCommand(io));
        sweep.Subcommands.Add(SlurmCommand(io));
        sweep.Subcommands.Add(KubernetesCommand(io));
        return sweep;
    }

    private static Command PlanCommand(CliIo io)
    {
        var cmd = new Command("plan", "Write a sweep folder (sweep.json) from --preset, --grid or --shapes; every training option is the base of all runs. Prints each run's estimated time on this machine.")
            .With(Training).With(EvalK, Preset, Grid, Shapes, NoEstimate);
        cmd.SetAction(p => io.Guard(() =>
        {
            int given = new[] { p.GetValue(Preset), p.GetValue(Grid), p.GetValue(Shapes) }.Count(v => v is not null);
            if (given != 1) throw new ArgumentException("give exactly one of --preset, --grid and --shapes");
            var (config, options, settings) = p.ReadTraining(ModelKind.Iwae);
            var baseline = new SweepRunOptions { Config = config, Train = options, Data = settings.Data, TestFraction = settings.TestFraction, EvalK = settings.EvalK };
            SweepPlan plan;
            if (p.GetValue(Preset) is string preset)
            {
                if (preset != SweepPlanner.BurdaTable1) throw new ArgumentException($"--preset must be {SweepPlanner.BurdaTable1}, got '{preset}'");
                if (!p.Given(CliOptions.Stages) && !p.Given(Epochs)) baseline = baseline with { Train = baseline.Train with { Stages = 8 } };
                plan = SweepPlanner.Table1(baseline, p.Given(Hidden) ? config.Hidden : null, p.Given(Latent) ? config.Latent : null);
            }
            else if (p.GetValue(Grid) is string grid) plan = SweepPlanner.Grid(baseline, grid);
            else plan = SweepPlanner.Shapes(baseline, SweepReport.ParseSpec(p.GetValue(Shapes)!));

            var folder = new SweepFolder(settings.OutDir!);
            // Bad data stop here. A known set not fetched yet is a warning, not a refusal: the runs read their data when
            // they start, on the machines that run them, whose data directory (IWAE_DATA) need not be this one's, and a
            // sweep is often planned before its data are fetched; sweep.json names the set, not a path.
            plan = SweepPlanner.WithData(plan, out var notFetched);
            foreach (var set in notFetched)
                io.Err.WriteLine($"iwae: warning: data set '{set.Name}' is not fetched here ({DataSets.Folder(set, DataSets.DefaultDirectory())}); fetch it with `iwae data fetch {set.Name}` before the runs start (no time estimate without it)");
            IReadOnlyList<SweepRunEstimate>? estimates = p.GetValue(NoEstimate) || notFetched.Count > 0 ? null : SweepEstimate.Measure(plan, options.Threads);
            folder.WritePlan(plan);
            io.Out.WriteLine($"sweep: {plan.Runs.Count} runs -> {folder.Plan}");
            foreach (var run in plan.Runs)
            {
                string time = estimates is null ? "" : $"  ~{Hours(estimates[run.Index].Total)} on {options.Threads} thread{(options.Threads == 1 ? "" : "s")} ({estimates[run.Index].Steps:N0} steps at {estimates[run.Index].StepMilliseconds:F2} ms)";
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {run.Index,3} {run.Name,-24} {run.Options.Config.Architecture} k={run.Options.Config.K} {run.Options.Train.TotalEpochs} epochs{time}"));
            }
            if (estimates is not null)
                io.Out.WriteLine($"total: ~{Hours(TimeSpan.FromTicks(estimates.Sum(e => e.Total.Ticks)))} of compute; the longest run ~{Hours(estimates.Max(e => e.Total))}");
            io.Out.WriteLine($"next: iwae sweep run {folder.Path} --all   (or: iwae sweep slurm {folder.Path}; iwae sweep k8s {folder.Path})");
            return 0;
        }));
        return cmd;
    }

    private static Command RunCommand(CliIo io)
    {
        var cmd = new Command("run", "Run one run of the sweep (--task, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all of them here. A finished run is skipped, an interrupted one resumes; a run that another live worker holds is left alone. SIGTERM writes the checkpoint and exits 130.");
        cmd.Arguments.Add(Folder);
        cmd.With(Task, All, Parallel, RunThreads);
        cmd.SetAction(p => io.Guard(() =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            sweep.ReadPlan();
            int threads = SweepRunner.Threads(p.GetValue(RunThreads), Math.Min(2, Environment.ProcessorCount));
            if (p.GetValue(All))
            {
                if (p.GetValue(Task) is not null) throw new ArgumentException("give --task or --all, not both");
                int parallel = p.Within(Parallel, Limits.Threads);
                var outcomes = SweepRunner.RunAll(sweep, parallel, threads, io.Out.WriteLine, io.Cancel);
                var failed = outcomes.Where(o => o.Kind is SweepOutcomeKind.Failed or SweepOutcomeKind.FailedBefore).ToArray();
                io.Out.WriteLine($"sweep: {outcomes.Count(o => o.Kind is SweepOutcomeKind.Trained or SweepOutcomeKind.AlreadyDone)} of {outcomes.Count} runs done, {failed.Length} failed");
                if (failed.Length == 0) return 0;
                io.Err.WriteLine($"iwae: {failed.Length} of {outcomes.Count} runs failed ({failed[0].Message}{More(failed.Length)}); `iwae sweep status {sweep.Path}` lists them");
                return ExitCode(failed.Select(o => o.Cause));
            }
            int index = SweepRunner.TaskIndex(p.GetValue(Task)) ?? throw new ArgumentException("give --task N (or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all");
            var view = ProgressView.For(io.Out);
            var outcome = view.Run(() => SweepRunner.RunOne(sweep, index, threads, view.Log, io.Cancel, view.Report, waitWhileBusy: true));
            if (outcome.Kind == SweepOutcomeKind.FailedBefore)
            {
                // A refusal, not a success: the task's scheduler must see the run as failed, with the code it failed with.
                io.Err.WriteLine($"iwae: {outcome.Message}");
                return ExitCode([outcome.Cause]);
            }
            io.Out.WriteLine(outcome.Message);
            return 0;
        }, interrupted: "iwae: interrupted; the run's checkpoint is saved, and running the same task again resumes it"));
        return cmd;
    }

    // 3 (non-finite training) only when every failure was that; any bad input makes it 2.
    private static int ExitCode(IEnumerable<SweepFailureCause?> causes)
        => causes.All(c => c == SweepFailureCause.NonFinite) ? IwaeCommand.Diverged : IwaeCommand.BadInput;

    private static readonly Option<int> Cpus = new("--cpus") { Description = "Cores per run (sbatch --cpus-per-task; the pod's CPU request), also its kernel threads.", DefaultValueFactory = _ => 2 };
    private static readonly Option<string> Time = new("--time") { Description = "Slurm time limit per task, as sbatch takes it (HH:MM:SS or D-HH:MM:SS); a run longer than that checkpoints before it and requeues itself.", DefaultValueFactory = _ => "04:00:00" };
    private static readonly Option<string?> Partition = new("--partition") { Description = "Slurm partition." };
    private static readonly Option<string?> Account = new("--account") { Description = "Slurm account." };
    private static readonly Option<int?> MaxConcurrent = new("--max-concurrent") { Description = "Most array tasks running at once (sbatch --array=0-N%P)." };
    private static readonly Option<string> Launch = new("--command") { Description = "How the image starts iwae, e.g. \"dotnet /opt/iwae/iwae.dll\".", DefaultValueFactory = _ => "iwae" };
    private static readonly Option<string?> SlurmLaunch = new("--command") { Description = "How the compute nodes start iwae, as shell words, e.g. \"dotnet /opt/iwae/iwae.dll\". Default: this iwae, by its full path (dotnet and iwae.dll by theirs when run through dotnet)." };
    private static readonly Option<string?> Image = new("--image") { Description = "The container image holding the iwae tool (Kubernetes)." };
    private static readonly Option<string?> Claim = new("--claim") { Description = "The PersistentVolumeClaim that holds the sweep folder (Kubernetes)." };
    private static readonly Option<int?> K8sParallelism = new("--parallelism") { Description = "Pods at once (default: min(runs, 8))." };
    private static readonly Option<string> Mount = new("--mount") { Description = "Where the pods see the sweep folder.", DefaultValueFactory = _ => "/sweep" };
    private static readonly Option<string?> SubPath = new("--sub-path") { Description = "The sweep folder's path inside the claim, if not its root." };
    private static readonly Option<string> Memory = new("--memory") { Description = "Memory per pod.", DefaultValueFactory = _ => "2Gi" };

    private static Command SlurmCommand(CliIo io)
    {
        var cmd = new Command("slurm", "Write SWEEP/sweep.sbatch: a Slurm job array over the runs (one task per run, logs under SWEEP/logs, --requeue, USR1 before the time limit so a run checkpoints and requeues itself). Submit it with `sbatch SWEEP/sweep.sbatch`.");
        cmd.Arguments.Add(Folder);
        cmd.With(Cpus, Time, Partition, Account, MaxConcurrent, SlurmLaunch);
        cmd.SetAction(p => io.Guard(() =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var plan = sweep.ReadPlan();
            var script = SlurmScript.Build(new SlurmOptions
            {
                SweepFolder = sweep.Path, Runs = plan.Runs.Count, CpusPerTask = p.Within(Cpus, Limits.Threads), TimeLimit = ParseSlurmTime(p.GetValue(Time)!),
                Partition = p.GetValue(Partition), Account = p.GetValue(Account), MaxConcurrent = p.GetValue(MaxConcurrent),
                Command = p.GetValue(SlurmLaunch) ?? SlurmScript.CommandFor(Environment.ProcessPath, typeof(SweepCommand).Assembly.Location),
            });
            string path = sweep.File(SweepFolder.SbatchFile);
            AtomicFile.WriteAllText(path, script);
            io.Out.WriteLine($"slurm: {path} ({plan.Runs.Count} array tasks); submit with: sbatch {SlurmScript.Quote(path)}");
            return 0;
        }));
        return cmd;
    }

    private static Command KubernetesCommand(CliIo io)
    {
        var cmd = new Command("k8s", "Write SWEEP/k8s-job.json: a Kubernetes Indexed Job (completions = runs; each pod runs `sweep run` on its JOB_COMPLETION_INDEX, the sweep folder on a volume). Apply it with `kubectl apply -f SWEEP/k8s-job.json`.");
        cmd.Arguments.Add(Folder);
        cmd.With(Image, Claim, K8sParallelism, Cpus, Memory, Mount, SubPath, Launch);
        cmd.SetAction(p => io.Guard(() =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var plan = sweep.ReadPlan();
            string image = p.GetValue(Image) ?? throw new ArgumentException("--image: give the container image that holds the iwae tool");
            string claim = p.GetValue(Claim) ?? throw new ArgumentException("--claim: give the PersistentVolumeClaim that holds the sweep folder");
            string json = KubernetesManifest.Build(new KubernetesOptions
            {
                Name = KubernetesManifest.NameFor(sweep.Path), Runs = plan.Runs.Count, Parallelism = p.GetValue(K8sParallelism), Image = image,
                ClaimName = claim, CpusPerTask = p.Within(Cpus, Limits.Threads), Memory = p.GetValue(Memory)!, SweepMountPath = p.GetValue(Mount)!,
                SubPath = p.GetValue(SubPath), Command = p.GetValue(Launch)!.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            });
            string path = sweep.File(SweepFolder.KubernetesFile);
            AtomicFile.WriteAllText(path, json);
            io.Out.WriteLine($"k8s: {path} ({plan.Runs.Count} completions); apply with: kubectl apply -f {path}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>sbatch's time format: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.</summary>
    /// <summary>The longest --time taken: a year, beyond any partition's limit.</summary>
    private static readonly TimeSpan MaxSlurmTime = TimeSpan.FromDays(365);

    internal static TimeSpan ParseSlurmTime(string text)
    {
        var bad = new ArgumentException($"--time must be HH:MM:SS or D-HH:MM:SS (as sbatch takes it), got '{text}'");
        int days = 0;
        string rest = text.Trim();
        int dash = rest.IndexOf('-');
        if (dash >= 0)
        {
            if (!int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out days)) throw bad;
            rest = rest[(dash + 1)..];
        }
        var parts = rest.Split(':');
        if (parts.Length is < 1 or > 3 || parts.Any(x => !int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out _))) throw bad;
        var n = parts.Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        // In seconds, as longs: each field is below 2^31, so no sum overflows before the limit is checked.
        long seconds = dash >= 0
            ? days * 86400L + n[0] * 3600L + (n.Length > 1 ? n[1] * 60L : 0) + (n.Length > 2 ? n[2] : 0)
            : n.Length switch { 1 => n[0] * 60L, 2 => n[0] * 60L + n[1], _ => n[0] * 3600L + n[1] * 60L + n[2] };
        if (seconds > MaxSlurmTime.TotalSeconds)
            throw new ArgumentException($"--time must be at most {MaxSlurmTime.TotalDays:F0} days (as sbatch takes it), got '{text}'");
        return seconds > 0 ? TimeSpan.FromSeconds(seconds) : throw bad;
    }

    private static Command StatusCommand(CliIo io)
    {
        var cmd = new Command("status", "Print each run's state (pending, running, interrupted, done, failed, invalid), epoch, last training bound and ETA. Exits 2 when a run's files are invalid (a results.json that does not read or is another run's).");
        cmd.Arguments.Add(Folder);
        cmd.SetAction(p => io.Guard(() =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var states = sweep.States(sweep.ReadPlan(), DateTime.UtcNow);
            io.Out.WriteLine($"{"#",3}  {"run",-24} {"state",-12} {"epoch",-11} {"bound",9}  {"ETA",-9}  detail");
            foreach (var s in states)
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Run.Index,3}  {s.Run.Name,-24} {s.Status.ToString().ToLowerInvariant(),-12} {$"{s.EpochsDone}/{s.TotalEpochs}",-11} {(s.LastBound is double b ? b.ToString("F2", CultureInfo.InvariantCulture) : "-"),9}  {(s.Eta is TimeSpan e ? Hours(e) : "-"),-9}  {s.Detail}"));
            io.Out.WriteLine(string.Join(", ", states.GroupBy(s => s.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}")));
            return Invalid(io, states);
        }));
        return cmd;
    }

    private static Command CollectCommand(CliIo io)
    {
        var cmd = new Command("collect", "Write the sweep's results table (results.csv, results.json) and report.html (Table 1's layout with the paper's figures for that preset); works on a partly finished sweep. Exits 2, after writing them, when a run's files are invalid.");
        cmd.Arguments.Add(Folder);
        cmd.SetAction(p => io.Guard(() =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var plan = sweep.ReadPlan();
            int code = io.WriteFigures(sweep.Path, () =>
            {
                var written = SweepReport.Write(sweep, io.Out.WriteLine);
                if (plan.Preset == SweepPlanner.BurdaTable1)
                {
                    var table = SweepResults.Table1(SweepResults.Collect(sweep), mnist: plan.Runs[0].Options.Data is "mnist");
                    io.Out.WriteLine($"{"layers",6} {"k",3} {"VAE",8} {"IWAE",8} {"paper VAE",10} {"paper IWAE",11}");
                    foreach (var t in table)
                        io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Layers,6} {t.K,3} {F(t.Vae),8} {F(t.Iwae),8} {F(t.PaperVae),10} {F(t.PaperIwae),11}"));
                }
                return written;
            });
            // The tables mark such a run invalid; the exit code says so too, so that no script counts it as done.
            return Invalid(io, sweep.States(plan, DateTime.UtcNow)) is var invalid and not 0 ? invalid : code;
        }));
        return cmd;

        static string F(double? v) => v is double x ? x.ToString("F2", CultureInfo.InvariantCulture) : "-";
    }

    // One line on stderr and exit 2 when a run's files are not its own or do not read: status and collect show the
    // run as invalid, but a script reading only the exit code must not take the sweep for sound.
    private static int Invalid(CliIo io, IReadOnlyList<SweepRunState> states)
    {
        var invalid = states.Where(s => s.Status == SweepRunStatus.Invalid).ToArray();
        if (invalid.Length == 0) return 0;
        io.Err.WriteLine($"iwae: {invalid.Length} run{(invalid.Length == 1 ? "" : "s")} invalid: run {invalid[0].Run.Index} ({invalid[0].Run.Name}): {invalid[0].Detail}{More(invalid.Length)}");
        return IwaeCommand.BadInput;
    }

    private static string More(int count) => count > 1 ? $"; and {count - 1} more" : "";

    private static string Hours(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:F1} h")
        : t.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:F0} min") : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:F0} s");
}
