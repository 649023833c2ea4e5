using System.CommandLine;
using System.Globalization;
using Iwae.Experiments.Sweeps;
using static Iwae.Cli.Commands.Sweeps.SweepCommand;

namespace Iwae.Cli.Commands.Sweeps;

/// <summary>`iwae sweep status`: each run's state, read from its files (<see cref="SweepFolder.States"/>).</summary>
internal static class SweepStatusCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("status", "Print each run's state (pending, running, interrupted, done, failed, invalid), epoch, last training bound and ETA. Exits 2 when a run's files are invalid (a results.json that does not read or is another run's).");
        cmd.Arguments.Add(Folder);
        cmd.SetAction(p => io.Guard(p, () =>
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
}
