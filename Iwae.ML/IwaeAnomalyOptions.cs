using Iwae.Autodiff;
using Iwae.Core;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.ML;

/// <summary>
/// Settings of <see cref="IwaeAnomalyEstimator"/>, after ML.NET's <c>RandomizedPcaTrainer.Options</c>: the feature column,
/// the model (an importance weighted autoencoder D-hidden-latent with k samples), its training, and how rows are scored
/// (log p(x) estimated with <see cref="EvaluationK"/> samples) and flagged (a quantile of the training rows' scores).
/// </summary>
public sealed class IwaeAnomalyOptions
{
    /// <summary>The input column: a vector of <see cref="float"/> of known size D, one example per row.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>Importance samples per example while training (k).</summary>
    public int K { get; set; } = 5;

    /// <summary>Encoder hidden widths; the decoder mirrors them (D-100-Latent and Latent-100-D by default).</summary>
    public int[] HiddenLayers { get; set; } = [100];

    /// <summary>Latent dimension Z.</summary>
    public int Latent { get; set; } = 10;

    /// <summary>Training epochs, at <see cref="LearningRate"/> with Adam.</summary>
    public int Epochs { get; set; } = 50;

    /// <summary>Examples per minibatch.</summary>
    public int BatchSize { get; set; } = 20;

    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Seeds the weights, the order of the examples and the training noise: the same seed gives the same model.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>Importance samples per row when scoring (the k of the log p(x) estimate); more is tighter and slower.</summary>
    public int EvaluationK { get; set; } = 100;

    /// <summary>
    /// The observation model p(x|z). <see cref="Observation.Bernoulli"/> (the default) needs every value in [0, 1], at
    /// training and at scoring (scale the features first, e.g. by their known range); training binarises each minibatch
    /// anew and scoring takes the values as they are. <see cref="Observation.Gaussian"/> takes any real values.
    /// </summary>
    public Observation Observation { get; set; } = Observation.Bernoulli;

    /// <summary>
    /// The Gaussian observation's sigma: <see cref="DecoderVariance.Fixed"/> (0.1), or learned, one for all dimensions
    /// (<see cref="DecoderVariance.Shared"/>) or one per dimension (<see cref="DecoderVariance.PerDimension"/>).
    /// </summary>
    public DecoderVariance DecoderVariance { get; set; } = DecoderVariance.Fixed;

    /// <summary>
    /// Gaussian observation only: read every feature as (x - mean) / std with the training rows' statistics (kept in
    /// the model); the score stays -log p(x) in the features' own units.
    /// </summary>
    public bool Standardize { get; set; }

    /// <summary>IWAE (importance weighted bound) or VAE (the k-sample ELBO).</summary>
    public ModelKind Model { get; set; } = ModelKind.Iwae;

    /// <summary>
    /// The threshold of <c>PredictedLabel</c> is this quantile of the training rows' scores: with 0.95, about 5% of the
    /// training rows are flagged. Strictly between 0 and 1.
    /// </summary>
    public double ThresholdQuantile { get; set; } = 0.95;

    /// <summary>Kernel threads for training and scoring; the results are the same bits on any count.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>A copy of every setting (the hidden widths too), so a caller's later changes reach no estimator.</summary>
    internal IwaeAnomalyOptions Copy()
    {
        var copy = (IwaeAnomalyOptions)MemberwiseClone();
        copy.HiddenLayers = [.. HiddenLayers];
        return copy;
    }

    /// <summary>The model these options describe for examples of <paramref name="inputSize"/> values.</summary>
    internal ModelConfig ModelConfig(int inputSize) => new()
    {
        Model = Model, K = K, InputSize = inputSize, Hidden = HiddenLayers, Latent = Latent, Observation = Observation,
        DecoderVariance = DecoderVariance, Standardize = Standardize,
    };

    /// <summary>The training these options describe.</summary>
    internal TrainOptions TrainOptions() => new() { Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, Seed = Seed };

    /// <summary>
    /// Checks every setting, the model's and the training's through Iwae.Core's own checks (for an input of
    /// <paramref name="inputSize"/> values), and throws one <see cref="ArgumentException"/> naming the first property at fault.
    /// </summary>
    internal void Validate(int inputSize = 1)
    {
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw Bad(nameof(FeatureColumnName), "must name the feature column, got an empty name");
        if (!(ThresholdQuantile > 0 && ThresholdQuantile < 1))
            throw Bad(nameof(ThresholdQuantile), $"must be between 0 and 1 (exclusive), got {ThresholdQuantile}");
        if (!Limits.EvalK.Allows(EvaluationK)) throw Bad(nameof(EvaluationK), $"must be {Limits.EvalK.Range}, got {EvaluationK}");
        if (!Limits.Threads.Allows(Threads)) throw Bad(nameof(Threads), $"must be {Limits.Threads.Range}, got {Threads}");
        if (Epochs < 1) throw Bad(nameof(Epochs), $"must be at least 1, got {Epochs}");
        try
        {
            TrainOptions().Validate(ModelConfig(inputSize).Validate());
        }
        catch (SettingException e)
        {
            throw Bad(PropertyOf(e.Field), e.Problem);
        }
    }

    private static ArgumentException Bad(string property, string problem) => new($"{nameof(IwaeAnomalyOptions)}.{property} {problem}");

    /// <summary>The property behind a field as Iwae.Core's checks spell it ("batch_size": BatchSize).</summary>
    private static string PropertyOf(string field) => field switch
    {
        "k" => nameof(K),
        "hidden" => nameof(HiddenLayers),
        "latent" => nameof(Latent),
        "epochs" => nameof(Epochs),
        "batch_size" => nameof(BatchSize),
        "learning_rate" => nameof(LearningRate),
        "observation" => nameof(Observation),
        "model" => nameof(Model),
        "decoder_variance" => nameof(DecoderVariance),
        "standardize" => nameof(Standardize),
        _ => field,
    };
}
