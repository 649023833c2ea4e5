using System.CommandLine;
using Iwae.Experiments;
using static Iwae.Cli.Commands.CliOptions;

namespace Iwae.Cli.Commands;

/// <summary>
/// `iwae export --checkpoint FILE --format torch --out FILE`: <see cref="InteropRuns.ExportTorch"/>;
/// `--format onnx --out PATH`: <see cref="InteropRuns.ExportOnnx"/>.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("export", "Write a checkpoint's model as a PyTorch state_dict in safetensors (nn.Linear names, [out, in] weights, 1-D biases, F32, the model config in the metadata; no optimiser state), or with --format onnx its encoder and decoder as ONNX graphs (PATH.encoder.onnx: x -> mu, log_sigma, log_var; PATH.decoder.onnx: z -> logits and probs, or mean; with two stochastic layers also PATH.encoder.h2.onnx and PATH.decoder.h1.onnx); with --test-data-out, also the test set as eval reads it (all files are written, or none). See docs/interop.md.")
            .With(CheckpointFile, ExportFormat, OutFile, TestDataOut, Data);
        cmd.SetAction(p => io.Guard(p, () =>
        {
            string format = p.GetValue(ExportFormat)!;
            if (format is not ("torch" or "onnx")) throw new ArgumentException($"--format must be torch or onnx, got '{format}'");
            if (p.Given(Data) && p.GetValue(TestDataOut) is null) throw new ArgumentException("--data applies to --test-data-out only");
            string outPath = p.GetValue(OutFile)!;
            string? testData = p.GetValue(TestDataOut);
            if (format == "onnx")
            {
                var (model, graphs) = InteropRuns.ExportOnnx(p.GetValue(CheckpointFile)!, outPath, testData, p.DataSpec());
                io.Out.WriteLine($"exported {model.Architecture} ({RunFolder.ModelName(model.Model)}, k={model.K}) to {string.Join(", ", graphs.SkipLast(1))} and {graphs[^1]}");
            }
            else
            {
                var config = InteropRuns.ExportTorch(p.GetValue(CheckpointFile)!, outPath, testData, p.DataSpec());
                io.Out.WriteLine($"exported {config.Architecture} ({RunFolder.ModelName(config.Model)}, k={config.K}) to {outPath}");
            }
            if (testData is not null) io.Out.WriteLine($"test set: {testData}");
            return 0;
        }));
        return cmd;
    }
}
