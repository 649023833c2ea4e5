using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Experiments;

public static partial class Runs
{
    /// <summary>
    /// `iwae compare`: checks the paths (<see cref="OutputFiles.Check"/>: --out is not the data), then
    /// <see cref="Compare"/> into <see cref="RunSettings.OutDir"/>, then reads that run folder back as `iwae plot` does
    /// (<see cref="RunAnalysis.Read"/>): results.json's figures and what the report draws.
    /// </summary>
    /// <exception cref="ArgumentException"><see cref="RunSettings.OutDir"/> is not given: the analysis reads the run folder.</exception>
    public static RunAnalysis CompareAndAnalyze(ModelConfig config, TrainOptions options, RunSettings settings, Action<string>? log = null,
        CancellationToken cancel = default, ComputeContext? compute = null)
    {
        string outDir = settings.OutDir ?? throw new ArgumentException("a comparison is analysed from its run folder; give an output folder");
        OutputFiles.Check(inputs: [("--data", settings.Data)], files: [], folders: [("--out", outDir)]);
        Compare(config, options, settings, log, cancel, compute);
        return RunAnalysis.Read(outDir, settings.Data, log);
    }
}
