using System.CommandLine;
using Iwae.Autodiff;
using Iwae.Core;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae eval --checkpoint FILE`: <see cref="Runs.Evaluate(RunCheckpoint, RunSettings, Action{string}?, ComputeContext?)"/>.</summary>
internal static class EvalCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("eval", "Evaluate a checkpoint on the test set of its data (or of --data): NLL estimate at --eval-k samples (alias --k), bounds at k=1 and the model's k, active units.")
            .With(Checkpoint, EvalKOrK, Data, Threads);
        cmd.SetAction(p => io.Guard(() =>
        {
            int evalK = p.AtLeast(EvalKOrK, 1), threads = p.AtLeast(Threads, 1);
            var checkpoint = RunCheckpoint.Read(p.GetValue(Checkpoint)!);
            var settings = checkpoint.Settings(data: p.DataSpec()) with { EvalK = evalK };
            var compute = ComputeContext.Default.WithThreads(threads);
            var view = ProgressView.For(io.Out);
            var r = view.Run(() => Runs.Evaluate(checkpoint, settings with { Progress = view.Report }, view.Log, compute));
            io.Out.WriteLine(Output.Result(r, evalK));
            return 0;
        }));
        return cmd;
    }
}
