using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;

namespace Iwae.Experiments;

/// <summary>
/// Where the data comes from, where a run writes, and how it is evaluated. How it runs (threads, cancellation, where
/// <see cref="RunProgress"/> goes) is the <see cref="Autodiff.Execution"/> passed beside these settings.
/// </summary>
public sealed record RunSettings
{
    /// <summary>
    /// The data (<c>--data</c>, resolved by <see cref="DataSource"/>): a file (.npy, .npz, .csv, .amat, .mat), a folder
    /// (MNIST IDX files, or a fetched data set), or the name of a fetched data set ("mnist"); null for the embedded subset.
    /// </summary>
    public string? Data { get; init; }
    /// <summary>
    /// The data a checkpoint's model was trained on, when <see cref="Data"/> reads them again (eval, score, resume):
    /// <see cref="Runs.LoadData(RunSettings, Observation)"/> refuses them when they are gone or changed, and asks for
    /// --data when they were held in memory. Null: nothing to check (new runs, data given anew, old checkpoints).
    /// </summary>
    public DataRecord? TrainedOn { get; init; }
    /// <summary>Share of the examples held out as the test set when the data have no test split of their own (seeded split).</summary>
    public double TestFraction { get; init; } = DataSource.DefaultTestFraction;
    /// <summary>k of the log-likelihood estimate (5000 in the paper).</summary>
    public int EvalK { get; init; } = 5000;
    /// <summary>Seed of the test set's one fixed binarisation.</summary>
    public ulong TestBinarizationSeed { get; init; } = 0x7E57;
    /// <summary>Run folder for checkpoints, metrics and results (<see cref="RunFolder"/>); null writes nothing.</summary>
    public string? OutDir { get; init; }
    /// <summary>
    /// k of the test NLL measured at the end of every stage (the learning curve): the value set (1000 by default), but
    /// never more than <see cref="EvalK"/>, so a quick run asked for a small k is not slowed by its learning curve; 0 skips it.
    /// Each stage's line of &lt;model&gt;-stages.jsonl records the k and images it used.
    /// </summary>
    public int StageEvalK { get => Math.Min(_stageEvalK, EvalK); init => _stageEvalK = value; }
    private readonly int _stageEvalK = DefaultStageEvalK;
    /// <summary>The most samples per image of the per-stage NLL.</summary>
    public const int DefaultStageEvalK = 1000;
    /// <summary>Test images (the first ones) used for the per-stage NLL.</summary>
    public int StageEvalImages { get; init; } = DefaultStageEvalImages;
    /// <summary>Test images of the per-stage NLL by default.</summary>
    public const int DefaultStageEvalImages = 500;
    /// <summary>Epochs between checkpoints (one is also written at the end and on interruption).</summary>
    public int CheckpointEvery { get; init; } = 1;

    /// <summary>
    /// The one check of these settings: throws <see cref="SettingException"/> naming the first out-of-range field
    /// (test_fraction, eval_k, stage_eval_k, stage_eval_images, checkpoint_every). Returns these settings.
    /// </summary>
    public RunSettings Validate()
    {
        DataSource.CheckTestFraction(TestFraction);
        Limits.EvalK.Check(EvalK);
        if (_stageEvalK != 0) Limits.EvalK.Check(_stageEvalK, "stage_eval_k");
        if (!(StageEvalImages >= 1)) throw new SettingException("stage_eval_images", $"must be >= 1, got {StageEvalImages}");
        Limits.CheckpointEvery.Check(CheckpointEvery);
        return this;
    }

    /// <summary>
    /// The one check of a training run's settings, which `train`, `compare`, a sweep's plan and the library calls all
    /// make before anything is loaded or written: the model (<see cref="ModelConfig.Validate"/>), the training and its
    /// estimator against the model (<see cref="TrainOptions.Validate(ModelConfig)"/>) and these settings
    /// (<see cref="Validate()"/>). Throws <see cref="SettingException"/> naming the field.
    /// </summary>
    public RunSettings Validate(ModelConfig config, TrainOptions options)
    {
        options.Validate(config.Validate());
        return Validate();
    }

    /// <summary>The run folder of <see cref="OutDir"/>, or null.</summary>
    public RunFolder? Folder => OutDir is null ? null : new RunFolder(OutDir);
}

/// <summary>The learning curve's point at the end of a stage: a line of &lt;model&gt;-stages.jsonl.</summary>
/// <param name="Stage">Schedule stage.</param>
/// <param name="Epoch">Epochs trained so far.</param>
/// <param name="TrainBound">Last epoch's training bound.</param>
/// <param name="TestNll">-L_k on the first <paramref name="Images"/> test images.</param>
/// <param name="K">k of that estimate.</param>
/// <param name="Images">Test images used.</param>
/// <param name="Seconds">Time the estimate took (not counted as training time).</param>
public sealed record StageMetrics(int Stage, int Epoch, double TrainBound, double TestNll, int K, int Images, double Seconds);
