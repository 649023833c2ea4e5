using System.CommandLine;
using Iwae.Cli.Report;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae plot --run DIR`: <see cref="RunReport.Write"/> (and <see cref="SweepReport.Write"/> on a sweep folder).</summary>
internal static class PlotCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("plot", "Redraw the figures (learning curves, latent space, active units, reconstructions, samples; the manifold for a 2-D latent) and report.html of a run folder from its files and the test data. On a sweep folder, redraws every run and the sweep's table and chart.")
            .With(Run, Data);
        cmd.SetAction(p => io.Guard(() =>
        {
            string dir = p.GetValue(Run)!;
            string? data = p.DataSpec();
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: run folder not found");
            var sweep = new SweepFolder(dir);
            if (sweep.Exists)
            {
                foreach (var run in sweep.ReadPlan().Runs)
                    if (File.Exists(sweep.Run(run).Results)) RunReport.Write(sweep.Run(run).Path, data, io.Out.WriteLine);
                SweepReport.Write(sweep, io.Out.WriteLine);
            }
            else RunReport.Write(dir, data, io.Out.WriteLine);
            return 0;
        }));
        return cmd;
    }
}
