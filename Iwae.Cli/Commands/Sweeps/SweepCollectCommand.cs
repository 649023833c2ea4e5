using System.CommandLine;
using System.Globalization;
using Iwae.Cli.Report;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep collect`: the results table and report of a finished or partly finished sweep (<see cref="SweepResults"/>).</summary>
internal static class SweepCollectCommand
{
    public static Command Create(CliIo io)
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
}
