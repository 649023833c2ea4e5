using System.CommandLine;
using System.Globalization;
using Iwae.Core;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep slurm`: the sweep as a Slurm job array that requeues itself before its time limit (<see cref="SlurmScript"/>).</summary>
internal static class SweepSlurmCommand
{
    private static readonly Option<string> Time = new("--time") { Description = "Slurm time limit per task, as sbatch takes it (HH:MM:SS or D-HH:MM:SS); a run longer than that checkpoints before it and requeues itself.", DefaultValueFactory = _ => "04:00:00" };
    private static readonly Option<string?> Partition = new("--partition") { Description = "Slurm partition." };
    private static readonly Option<string?> Account = new("--account") { Description = "Slurm account." };
    private static readonly Option<int?> MaxConcurrent = new("--max-concurrent") { Description = "Most array tasks running at once (sbatch --array=0-N%P)." };
    private static readonly Option<string?> SlurmLaunch = new("--command") { Description = "How the compute nodes start iwae, as shell words, e.g. \"dotnet /opt/iwae/iwae.dll\". Default: this iwae, by its full path (dotnet and iwae.dll by theirs when run through dotnet)." };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("slurm", "Write SWEEP/sweep.sbatch: a Slurm job array over the runs (one task per run, logs under SWEEP/logs, --requeue, USR1 before the time limit so a run checkpoints and requeues itself). Submit it with `sbatch SWEEP/sweep.sbatch`.");
        cmd.Arguments.Add(Folder);
        cmd.With(Cpus, Time, Partition, Account, MaxConcurrent, SlurmLaunch);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            var plan = sweep.ReadPlan();
            var script = SlurmScript.Build(new SlurmOptions
            {
                SweepFolder = sweep.Path, Runs = plan.Runs.Count, CpusPerTask = p.GetValue(Cpus), TimeLimit = ParseSlurmTime(p.GetValue(Time)!),
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

    /// <summary>The longest --time taken: a year, beyond any partition's limit.</summary>
    private static readonly TimeSpan MaxSlurmTime = TimeSpan.FromDays(365);

    /// <summary>sbatch's time format: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.</summary>
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
}
