using System.CommandLine;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae eval --checkpoint FILE [--json]`: <see cref="Runs.Evaluate(RunCheckpoint, RunSettings, Execution?, Action{string}?)"/>.</summary>
internal static class EvalCommand
{
    /// <summary>`--json`: the result as one JSON object (<see cref="Output.EvalJson"/>).</summary>
    private static readonly Option<bool> Json = new("--json") { Description = "Print the result as one JSON object on stdout (full precision; results.json's names: test_nll, eval_k, test_bound_k1, ...); log lines go to stderr." };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("eval", "Evaluate a checkpoint on the test set of its data (or of --data): NLL estimate at --eval-k samples (alias --k), bounds at k=1 and the model's k, active units. With --json, one JSON object on stdout at full precision (progress goes to stderr). Ctrl+C stops it at once; nothing is written.")
            .With(CheckpointFile, EvalKOrK, Data, Threads, Json);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            bool json = p.GetValue(Json);
            var checkpoint = RunCheckpoint.Read(p.GetValue(CheckpointFile)!);
            var settings = checkpoint.Settings(data: p.DataSpec()) with { EvalK = p.GetValue(EvalKOrK) };
            // stdout carries the JSON object alone, so the log and progress lines go to stderr.
            var view = ProgressView.For(json ? io.Err : io.Out);
            using var execution = p.ReadExecution(io, view);
            var r = view.Run(() => Runs.Evaluate(checkpoint, settings, execution, view.Log));
            io.Out.WriteLine(json ? Output.EvalJson(r, settings.Data) : Output.Result(r, trained: false));
            return 0;
        }, interrupted: "iwae: interrupted; nothing was written"));
        return cmd;
    }
}
