using System.CommandLine;
using Iwae.Cli.Report;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae plot --run DIR`: <see cref="FolderAnalysis.Read"/>, drawn by <see cref="RunReport.Write(FolderAnalysis, Action{string}?)"/>.</summary>
internal static class PlotCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("plot", "Redraw the figures (learning curves, latent space, active units, reconstructions, samples; the manifold for a 2-D latent) and report.html of a run folder from its files and the test data. On a sweep folder, redraws every run and the sweep's table and chart.")
            .With(Run, Data);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var analysis = FolderAnalysis.Read(p.GetValue(Run)!, p.DataSpec(), io.Out.WriteLine);
            RunReport.Write(analysis, io.Out.WriteLine);
            return 0;
        }));
        return cmd;
    }
}
