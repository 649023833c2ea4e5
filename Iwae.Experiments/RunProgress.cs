using Iwae.Core.Training;

namespace Iwae.Experiments;

/// <summary>What a run is doing when it reports progress.</summary>
public enum RunPhase
{
    /// <summary>Optimiser steps; Done and Total count steps over the whole schedule.</summary>
    Train,
    /// <summary>The test NLL at the end of a stage (the learning curve); Done and Total count images.</summary>
    StageEval,
    /// <summary>The final evaluation (log p(x) at the run's eval k, 5000 by default); Done and Total count images.</summary>
    Eval,
}

/// <summary>
/// Where a run is, reported often (after every step while training, every image group while evaluating) for
/// live displays; <see cref="RunSettings.Progress"/> receives it. Rates and ETAs are the display's business.
/// </summary>
/// <param name="Model">"vae" or "iwae".</param>
/// <param name="Phase">Training, stage evaluation or final evaluation.</param>
/// <param name="Stage">Schedule stage (0 in the final evaluation).</param>
/// <param name="Epoch">Current epoch (1-based; the last one in the evaluations).</param>
/// <param name="TotalEpochs">Epochs in the whole schedule.</param>
/// <param name="LearningRate">Adam's step size (training only).</param>
/// <param name="Done">Steps or images done in this phase.</param>
/// <param name="Total">Steps or images the phase will take.</param>
/// <param name="RunningBound">The epoch's running training bound L_k so far (nats), NaN outside training.</param>
public readonly record struct RunProgress(string Model, RunPhase Phase, int Stage, int Epoch, int TotalEpochs, double LearningRate,
    long Done, long Total, double RunningBound);

/// <summary>Adapts <see cref="Evaluation"/>'s image counts to <see cref="RunProgress"/> reports, synchronously.</summary>
internal sealed class EvalProgress(Action<RunProgress> report, RunProgress template) : IProgress<int>
{
    public void Report(int value) => report(template with { Done = value });

    public static IProgress<int>? For(RunSettings settings, string model, RunPhase phase, int images, int stage = 0, int epoch = 0, int totalEpochs = 0)
        => settings.Progress is { } p ? new EvalProgress(p, new RunProgress(model, phase, stage, epoch, totalEpochs, double.NaN, 0, images, double.NaN)) : null;
}
