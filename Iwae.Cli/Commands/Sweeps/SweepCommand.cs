using System.CommandLine;
using System.Globalization;
using Iwae.Experiments.Sweeps;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>
/// `iwae sweep plan|run|status|collect|slurm|k8s`, one file per subcommand in this folder: many runs as plain files in one folder (<see cref="SweepFolder"/>),
/// each run idempotent, so that Slurm job arrays, Kubernetes Indexed Jobs or this machine can run them.
/// </summary>
internal static class SweepCommand
{
    /// <summary>The sweep folder, the argument of every subcommand but plan.</summary>
    internal static readonly Argument<string> Folder = new("sweep") { Description = "The sweep folder (sweep.json and runs/)." };

    /// <summary>Cores per run, of `slurm` and `k8s`.</summary>
    internal static readonly Option<int> Cpus = new("--cpus") { Description = "Cores per run (sbatch --cpus-per-task; the pod's CPU request), also its kernel threads.", DefaultValueFactory = _ => 2 };

    public static Command Create(CliIo io)
    {
        var sweep = new Command("sweep", "Sweeps: plan many runs into a folder, run them one per task on Slurm (job arrays), Kubernetes (Indexed Jobs) or here, follow and collect them. Every run is idempotent: finished runs are skipped, interrupted ones resume from their checkpoint, bit-identically.");
        sweep.Subcommands.Add(SweepPlanCommand.Create(io));
        sweep.Subcommands.Add(SweepRunCommand.Create(io));
        sweep.Subcommands.Add(SweepStatusCommand.Create(io));
        sweep.Subcommands.Add(SweepCollectCommand.Create(io));
        sweep.Subcommands.Add(SweepSlurmCommand.Create(io));
        sweep.Subcommands.Add(SweepKubernetesCommand.Create(io));
        return sweep;
    }

    // One line on stderr and exit 2 when a run's files are not its own or do not read: status and collect show the
    // run as invalid, but a script reading only the exit code must not take the sweep for sound.
    internal static int Invalid(CliIo io, IReadOnlyList<SweepRunState> states)
    {
        var invalid = states.Where(s => s.Status == SweepRunStatus.Invalid).ToArray();
        if (invalid.Length == 0) return 0;
        io.Err.WriteLine($"iwae: {invalid.Length} run{(invalid.Length == 1 ? "" : "s")} invalid: run {invalid[0].Run.Index} ({invalid[0].Run.Name}): {invalid[0].Detail}{More(invalid.Length)}");
        return IwaeCommand.BadInput;
    }

    internal static string More(int count) => count > 1 ? $"; and {count - 1} more" : "";

    internal static string Hours(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:F1} h")
        : t.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:F0} min") : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:F0} s");
}
