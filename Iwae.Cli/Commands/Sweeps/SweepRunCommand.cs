using System.CommandLine;
using Iwae.Core;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.CliOptions;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep run`: one run (a task of a job array) or all of them here (<see cref="SweepRunner"/>).</summary>
internal static class SweepRunCommand
{
    private static readonly Option<int?> Task = new("--task") { Description = "The run to do (0-based). Default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX." };
    private static readonly Option<bool> All = new("--all") { Description = "Run every run of the sweep on this machine (finished ones are skipped, interrupted ones resumed)." };
    internal static readonly Option<int> Parallel = new("--parallel") { Description = "With --all: runs at a time, each on --threads threads.", DefaultValueFactory = _ => 1 };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("run", "Run one run of the sweep (--task, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all of them here. A finished run is skipped, an interrupted one resumes; a run that another live worker holds is left alone. SIGTERM writes the checkpoint and exits 130.");
        cmd.Arguments.Add(Folder);
        cmd.With(Task, All, Parallel, Threads, FixedThreads);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var sweep = new SweepFolder(p.GetValue(Folder)!);
            sweep.ReadPlan();
            int? slurmThreads = p.Given(Threads) ? null : SweepRunner.ThreadsFromEnvironment();
            if (p.GetValue(All))
            {
                if (p.GetValue(Task) is not null) throw new ArgumentException("give --task or --all, not both");
                using var shared = p.ReadExecution(io, threadsWhenNotGiven: slurmThreads);
                var outcomes = SweepRunner.RunAll(sweep, p.GetValue(Parallel), shared, io.Out.WriteLine);
                var failed = outcomes.Where(o => o.Kind is SweepOutcomeKind.Failed or SweepOutcomeKind.FailedBefore).ToArray();
                io.Out.WriteLine($"sweep: {outcomes.Count(o => o.Kind is SweepOutcomeKind.Trained or SweepOutcomeKind.AlreadyDone)} of {outcomes.Count} runs done, {failed.Length} failed");
                if (failed.Length == 0) return 0;
                io.Err.WriteLine($"iwae: {failed.Length} of {outcomes.Count} runs failed ({failed[0].Message}{More(failed.Length)}); `iwae sweep status {sweep.Path}` lists them");
                return ExitCode(failed.Select(o => o.Cause));
            }
            int index = SweepRunner.TaskIndex(p.GetValue(Task)) ?? throw new ArgumentException("give --task N (or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), or --all");
            var view = ProgressView.For(io.Out);
            using var execution = p.ReadExecution(io, view, threadsWhenNotGiven: slurmThreads);
            var outcome = view.Run(() => SweepRunner.RunOne(sweep, index, execution, view.Log, waitWhileBusy: true));
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
}
