using System.Globalization;
using System.Text.Json.Serialization;
using Iwae.Autodiff;
using Iwae.Core.Estimators;
using Iwae.Core.Models;

namespace Iwae.Core.Training;

/// <summary>
/// How to train: the paper's protocol by default (Burda et al. 2016, section 5). These settings decide the bits; how the
/// training runs (threads, thread policy, cancellation, progress) is the <see cref="Iwae.Autodiff.Execution"/> given to the
/// <see cref="Trainer"/>, and no part of them. Files written before that was so may carry "threads" and
/// "adaptive_threads" here: reading ignores them.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Stages of the Burda schedule: stage i = 1..S runs 3^(i-1) epochs at lr 0.001 * 10^(-(i-1)/7). The paper uses 8.</summary>
    public int Stages { get; init; } = 8;

    /// <summary>When set, overrides the schedule: this many epochs at <see cref="LearningRate"/>.</summary>
    public int? Epochs { get; init; }

    /// <summary>Inputs per minibatch (20 in the paper). The last, partial batch of an epoch is kept.</summary>
    public int BatchSize { get; init; } = 20;

    /// <summary>Seeds the weights, the data order, the binarisation and the sampling noise.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Base learning rate: stage 1's in the Burda schedule, every epoch's with <see cref="Epochs"/> (<c>--lr</c>).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>The largest <see cref="LearningRate"/>.</summary>
    public const double MaxLearningRate = 1;

    /// <summary>Adam beta1 (0.99 in the paper).</summary>
    public double Beta1 { get; init; } = 0.99;

    /// <summary>Adam beta2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam epsilon (1e-4 in the paper).</summary>
    public double AdamEpsilon { get; init; } = 1e-4;

    /// <summary>The gradient estimator (<c>--estimator</c>); the default is the IWAE's (the ELBO's for a VAE).</summary>
    public GradientEstimator Estimator { get; init; } = GradientEstimator.Iwae;

    /// <summary>M, the groups of <see cref="GradientEstimator.Miwae"/> and <see cref="GradientEstimator.Piwae"/>: the k samples form M groups of k/M.</summary>
    public int Groups { get; init; } = 1;

    /// <summary>beta of <see cref="GradientEstimator.Ciwae"/>: the loss is beta ELBO + (1 - beta) IWAE bound.</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>
    /// Share of the training examples held out for validation (<c>--validation-fraction</c>), from 0 (none, the default)
    /// to <see cref="MaxValidationFraction"/>: chosen by <see cref="ValidationSplit"/>, a shuffle with a fixed seed, so
    /// every run on the same data holds out the same examples; the test split is never touched. With a split the trainer
    /// measures the validation bound after every epoch, keeps the weights of the best epoch and, with
    /// <see cref="Patience"/>, stops when it has not improved for that many epochs. Absent from the JSON when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double ValidationFraction { get; init; }

    /// <summary>The largest <see cref="ValidationFraction"/>: half the training examples.</summary>
    public const double MaxValidationFraction = 0.5;

    /// <summary>k of the validation bound L_k (<c>--validation-k</c>); null: the model's training k.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int? ValidationK { get; init; }

    /// <summary>
    /// Early stopping (<c>--patience</c>): training stops once the validation bound has not improved for this many epochs
    /// in a row; null trains the whole schedule. Needs a validation split.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int? Patience { get; init; }

    /// <summary>Whether a validation split is held out (<see cref="ValidationFraction"/> above 0).</summary>
    [JsonIgnore] public bool Validates => ValidationFraction > 0;

    /// <summary>
    /// The one check of the training settings: throws <see cref="SettingException"/> naming the first out-of-range field.
    /// Returns these options.
    /// </summary>
    public TrainOptions Validate()
    {
        CheckedEstimator();
        return this;
    }

    /// <summary>
    /// <see cref="Validate()"/>, and that the estimator applies to a model of <paramref name="config"/> (its kind; M divides
    /// k) and that a step's activations fit a tensor: <see cref="SettingException"/> or <see cref="ArgumentException"/>
    /// naming the problem.
    /// </summary>
    public TrainOptions Validate(ModelConfig config)
    {
        EstimatorFor(config);
        return this;
    }

    /// <summary>The estimator these options name, once <see cref="Validate(ModelConfig)"/>'s checks hold (the trainer's).</summary>
    internal Estimator<float> EstimatorFor(ModelConfig config)
    {
        var estimator = CheckedEstimator();
        estimator.Validate(config);
        // A step's activations are [k x batch, width] tensors.
        Limits.CheckTensor("one step's activations (k x batch rows, the widest layer's columns)", (long)config.K * BatchSize, config.WidestLayer);
        return estimator;
    }

    private Estimator<float> CheckedEstimator()
    {
        if (!Enum.IsDefined(Estimator)) throw new SettingException("estimator", $"must be one of iwae, stl, dreg, miwae, ciwae, piwae, got {Estimator}");
        Limits.Groups.Check(Groups);
        Limits.CheckBeta(Beta);
        Limits.Stages.Check(Stages);
        if (Epochs is int e) Limits.Epochs.Check(e);
        Limits.Batch.Check(BatchSize);
        // At most 1: Adam moves each weight by about lr per step, so a larger rate diverges in a few steps; and a rate
        // that single precision rounds to 0 would train nothing.
        if (!(LearningRate > 0 && LearningRate <= MaxLearningRate) || (float)LearningRate == 0)
            throw new SettingException("learning_rate", string.Create(CultureInfo.InvariantCulture, $"must be a positive number at most {MaxLearningRate}, got {LearningRate}"));
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new SettingException("beta1", $"(Adam's) must be in [0, 1), got {Beta1}");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new SettingException("beta2", $"(Adam's) must be in [0, 1), got {Beta2}");
        if (!(AdamEpsilon > 0) || !double.IsFinite(AdamEpsilon)) throw new SettingException("adam_epsilon", $"must be a positive number, got {AdamEpsilon}");
        if (!(ValidationFraction >= 0 && ValidationFraction <= MaxValidationFraction))
            throw new SettingException("validation_fraction", string.Create(CultureInfo.InvariantCulture, $"must be from 0 to {MaxValidationFraction}, got {ValidationFraction}"));
        if (ValidationK is int vk)
        {
            Limits.EvalK.Check(vk, "validation_k");
            if (!Validates) throw new SettingException("validation_k", "needs a validation split: give validation_fraction (--validation-fraction) above 0");
        }
        if (Patience is int patience)
        {
            Limits.Patience.Check(patience);
            if (!Validates) throw new SettingException("patience", "needs a validation split to watch: give validation_fraction (--validation-fraction) above 0");
        }
        return Estimator<float>.Create(this);
    }

    /// <summary>The schedule's name: "burda" (stages of 3^(i-1) epochs at lr * 10^(-(i-1)/7)) or "constant" (<see cref="Epochs"/> at lr).</summary>
    [JsonIgnore] public string ScheduleName => Epochs is null ? "burda" : "constant";

    /// <summary>The schedule in words, for the printed summary: "burda: 5 stages, 121 epochs, lr 0.001 * 10^(-(i-1)/7) in stage i".</summary>
    public string DescribeSchedule() => Epochs is int e
        ? string.Create(CultureInfo.InvariantCulture, $"constant: {e} epochs at lr {LearningRate:G6}")
        : string.Create(CultureInfo.InvariantCulture, $"burda: {Stages} stages, {TotalEpochs} epochs, lr {LearningRate:G6} * 10^(-(i-1)/7) in stage i");

    /// <summary>The validation bound's k for a model of <paramref name="config"/>: <see cref="ValidationK"/>, else its training k.</summary>
    public int ValidationKFor(ModelConfig config) => ValidationK ?? config.K;

    /// <summary>The (stage, epochs, learning rate) list this training runs.</summary>
    public IReadOnlyList<(int Stage, int Epochs, double LearningRate)> Schedule()
    {
        if (Epochs is int e) return [(1, e, LearningRate)];
        var list = new List<(int, int, double)>();
        for (int i = 1; i <= Stages; i++)
            list.Add((i, (int)Math.Pow(3, i - 1), LearningRate * Math.Pow(10, -(i - 1) / 7.0)));
        return list;
    }

    /// <summary>Total epochs over the schedule (3280 for the paper's 8 stages).</summary>
    public int TotalEpochs => Schedule().Sum(s => s.Epochs);
}
