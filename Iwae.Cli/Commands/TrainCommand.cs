using System.CommandLine;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>`iwae train [--resume DIR]`: <see cref="Runs.Train"/> of one model, new or continued from its checkpoint.</summary>
internal static class TrainCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("train", $"Train one model (--model iwae|vae) and evaluate it; writes checkpoints and per-epoch metrics to --out. The end of each stage measures the test NLL on the first {RunSettings.DefaultStageEvalImages} test images at k = min(--eval-k, {RunSettings.DefaultStageEvalK}) (the learning curve, <model>-stages.jsonl). Ctrl+C (or SIGTERM) finishes the current step, or stops an evaluation at once, and keeps the checkpoint; --resume DIR continues from it (a run whose training is done is evaluated again).")
            .With(Model).With(Training).With(EvalK, Resume, CheckpointEvery);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            var (config, options, settings, resume) = p.GetValue(Resume) is string dir ? Continue(p, dir) : New(p);
            settings = settings with { CheckpointEvery = p.GetValue(CheckpointEvery) };
            OutputFiles.Check(inputs: [("--data", settings.Data)], files: [], folders: [("--out", settings.OutDir)]);
            var view = ProgressView.For(io.Out);
            using var execution = p.ReadExecution(io, view);
            var r = view.Run(() => Runs.Train(config, options, settings, execution, view.Log, resume));
            io.Out.WriteLine(Output.Result(r, trained: true));
            io.Out.WriteLine(Output.Schedule(options));
            if (Output.Validation(r) is { } validation) io.Out.WriteLine(validation);
            io.Out.WriteLine($"checkpoint: {r.Checkpoint}");
            return 0;
        }));
        return cmd;
    }

    private static (ModelConfig, TrainOptions, RunSettings, RunCheckpoint?) New(ParseResult p)
    {
        var (config, options, settings) = p.ReadTraining(ParseModel(p.GetValue(Model)!));
        return (config, options, settings, null);
    }

    /// <summary>
    /// The run in <paramref name="dir"/> goes on as it was started; only the data folder and eval k may be given anew (and
    /// how it runs, --threads and --fixed-threads, which is this session's and never the checkpoint's).
    /// </summary>
    private static (ModelConfig, TrainOptions, RunSettings, RunCheckpoint?) Continue(ParseResult p, string dir)
    {
        var checkpoint = new RunFolder(dir).CheckpointToResume(p.Given(Model) ? ParseModel(p.GetValue(Model)!) : null);
        var (config, options, settings) = checkpoint.Continue(
            data: p.DataSpec(),
            evalK: p.Given(EvalK) ? p.GetValue(EvalK) : null);
        return (config, options, settings with { OutDir = dir }, checkpoint);
    }
}
