using System.CommandLine;
using System.Globalization;
using Iwae.Cli.Report;
using Iwae.Core.Models;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.CliOptions;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep plan`: a sweep folder (sweep.json) from a preset, a grid or encoder shapes, every training option the base of all runs (<see cref="SweepPlanner"/>).</summary>
internal static class SweepPlanCommand
{
    private static readonly Option<string?> Preset = new("--preset") { Description = $"A preset plan: {SweepPlanner.BurdaTable1} (Burda et al.'s Table 1 on --data: 1 and 2 stochastic layers x VAE, IWAE x k = 1, 5, 50; 8 stages unless --stages or --epochs is given)." };
    private static readonly Option<string?> Grid = new("--grid") { Description = $"A grid over options, e.g. \"model=vae,iwae;k=1,5,50;layers=1,2;seed=1,2\" (keys: {string.Join(", ", SweepPlanner.GridKeys)}; hidden as WIDTHxDEPTH)." };
    private static readonly Option<string?> Shapes = new("--shapes") { Description = $"A VAE and an IWAE per encoder shape, WIDTHxDEPTH separated by commas (what `compare --sweep` runs), e.g. {SweepReport.DefaultSpec}." };
    private static readonly Option<bool> NoEstimate = new("--no-estimate") { Description = "Skip the short step benchmark that estimates each run's time." };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("plan", "Write a sweep folder (sweep.json) from --preset, --grid or --shapes; every training option is the base of all runs. Prints each run's estimated time on this machine.")
            .With(Training).With(EvalK, Preset, Grid, Shapes, NoEstimate);
        cmd.SetAction(p => io.Guard(p, () =>
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
            using var execution = p.ReadExecution(io);
            IReadOnlyList<SweepRunEstimate>? estimates = p.GetValue(NoEstimate) || notFetched.Count > 0 ? null : SweepEstimate.Measure(plan, execution);
            folder.WritePlan(plan);
            io.Out.WriteLine($"sweep: {plan.Runs.Count} runs -> {folder.Plan}");
            foreach (var run in plan.Runs)
            {
                string time = estimates is null ? "" : $"  ~{Hours(estimates[run.Index].Total)} on {execution} ({estimates[run.Index].Steps:N0} steps at {estimates[run.Index].StepMilliseconds:F2} ms)";
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {run.Index,3} {run.Name,-24} {run.Options.Config.Architecture} k={run.Options.Config.K} {run.Options.Train.TotalEpochs} epochs{time}"));
            }
            if (estimates is not null)
                io.Out.WriteLine($"total: ~{Hours(TimeSpan.FromTicks(estimates.Sum(e => e.Total.Ticks)))} of compute; the longest run ~{Hours(estimates.Max(e => e.Total))}");
            io.Out.WriteLine($"next: iwae sweep run {folder.Path} --all   (or: iwae sweep slurm {folder.Path}; iwae sweep k8s {folder.Path})");
            return 0;
        }));
        return cmd;
    }
}
