using System.CommandLine;
using System.Globalization;
using Iwae.Cli.Report;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep collect`: the results table and report of a finished or partly finished sweep (<see cref="SweepAnalysis.Collect"/>).</summary>
internal static class SweepCollectCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("collect", "Write the sweep's results table (results.csv, results.json) and report.html (Table 1's layout with the paper's figures for that preset); works on a partly finished sweep. Exits 2, after writing them, when a run's files are invalid.");
        cmd.Arguments.Add(Folder);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var sweep = SweepAnalysis.Collect(new SweepFolder(p.GetValue(Folder)!), io.Out.WriteLine);
            int code = io.WriteFigures(sweep.Sweep.Path, () =>
            {
                var written = SweepReport.Write(sweep, io.Out.WriteLine);
                if (sweep.Table1 is { } table)
                {
                    io.Out.WriteLine($"{"layers",6} {"k",3} {"VAE",8} {"IWAE",8} {"paper VAE",10} {"paper IWAE",11}");
                    foreach (var t in table)
                        io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Layers,6} {t.K,3} {F(t.Vae),8} {F(t.Iwae),8} {F(t.PaperVae),10} {F(t.PaperIwae),11}"));
                }
                return written;
            });
            // The tables mark such a run invalid; the exit code says so too, so that no script counts it as done.
            return Invalid(io, sweep.States) is var invalid and not 0 ? invalid : code;
        }));
        return cmd;

        static string F(double? v) => v is double x ? x.ToString("F2", CultureInfo.InvariantCulture) : "-";
    }
}
