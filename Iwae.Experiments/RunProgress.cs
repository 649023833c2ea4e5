using Iwae.Autodiff;
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
/// live displays: the run's <see cref="Execution"/> sends it to its progress sink when that takes it (an
/// <see cref="IProgress{T}"/> of RunProgress, or an <see cref="Action{T}"/>). Rates and ETAs are the display's business.
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

/// <summary>
/// Turns the trainer's <see cref="StepProgress"/> and the evaluation's <see cref="EvaluationProgress"/> into
/// <see cref="RunProgress"/> reports of one model and phase, sent on, synchronously, to the run's own execution.
/// </summary>
internal sealed class RunProgressSink(Execution run, RunProgress template, long stepsPerEpoch) : IProgress<StepProgress>, IProgress<EvaluationProgress>
{
    public void Report(StepProgress s) => run.Report(template with
    {
        Stage = s.Stage, Epoch = s.Epoch, LearningRate = s.LearningRate, Done = (s.Epoch - 1) * stepsPerEpoch + s.Step, RunningBound = s.RunningBound,
    });

    public void Report(EvaluationProgress e) => run.Report(template with { Done = e.Images, Total = e.Total });

    /// <summary>
    /// <paramref name="run"/>, reporting the training of <paramref name="model"/> (<paramref name="stepsPerEpoch"/> steps
    /// per epoch over <paramref name="totalEpochs"/>) as <see cref="RunProgress"/>; itself when nothing takes reports.
    /// </summary>
    public static Execution Training(Execution run, string model, int totalEpochs, long stepsPerEpoch)
        => With(run, new RunProgress(model, RunPhase.Train, 0, 0, totalEpochs, double.NaN, 0, stepsPerEpoch * totalEpochs, double.NaN), stepsPerEpoch);

    /// <summary><paramref name="run"/>, reporting an evaluation of <paramref name="images"/> images in <paramref name="phase"/> as <see cref="RunProgress"/>.</summary>
    public static Execution Evaluation(Execution run, string model, RunPhase phase, int images, int stage = 0, int epoch = 0, int totalEpochs = 0)
        => With(run, new RunProgress(model, phase, stage, epoch, totalEpochs, double.NaN, 0, images, double.NaN), 0);

    private static Execution With(Execution run, RunProgress template, long stepsPerEpoch)
        => run.Progress is null ? run : run.WithProgress(new RunProgressSink(run, template, stepsPerEpoch));
}
