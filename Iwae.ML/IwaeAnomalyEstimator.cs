using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Microsoft.ML;

namespace Iwae.ML;

/// <summary>
/// An anomaly detector for ML.NET, after <c>RandomizedPcaTrainer</c>: <see cref="Fit"/> reads the feature column (a
/// vector of D floats per row) into a <see cref="Dataset"/>, trains an importance weighted autoencoder on it through
/// Iwae.Core's <see cref="Trainer"/>, scores the training rows and sets the threshold at
/// <see cref="IwaeAnomalyOptions.ThresholdQuantile"/> of their scores. The fitted <see cref="IwaeAnomalyTransformer"/> adds
/// <c>Score</c> (an estimate of -log p(x): higher is more anomalous) and <c>PredictedLabel</c> (Score above the threshold).
/// Made by <c>mlContext.AnomalyDetection.Trainers.Iwae(...)</c> (<see cref="IwaeCatalog"/>).
/// </summary>
public sealed class IwaeAnomalyEstimator : IEstimator<IwaeAnomalyTransformer>
{
    private readonly IwaeAnomalyOptions _options;

    /// <summary>An estimator with these settings (copied); throws <see cref="ArgumentException"/> naming the first one out of range.</summary>
    public IwaeAnomalyEstimator(IwaeAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.HiddenLayers is null) throw new ArgumentException("IwaeAnomalyOptions.HiddenLayers must list the hidden widths (empty for none)");
        _options = options.Copy();
        _options.Validate();
    }

    /// <summary>
    /// Trains on every row of <paramref name="input"/>: the model, then the training rows' scores and the threshold.
    /// </summary>
    /// <exception cref="ArgumentException">No feature column, a column that is not a vector of Single of known size, a
    /// NaN or infinite value (or for the Bernoulli observation one outside [0, 1]): the message names the column, row and slot.</exception>
    /// <exception cref="InvalidOperationException">The data have no rows.</exception>
    public IwaeAnomalyTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var x = FeatureColumn.Read(input, o.FeatureColumnName, o.Observation, expectedWidth: null);
        if (x.Rows == 0) throw new InvalidOperationException($"the training data have no rows: column '{o.FeatureColumnName}' needs at least one example");
        o.Validate(x.Cols);

        var train = Dataset.Vectors(x);
        var config = o.ModelConfig(x.Cols);
        var model = Iwae<float>.Create(config, new Rng(o.Seed), train);
        using var execution = new Execution(o.Threads);
        new Trainer(model, train, o.TrainOptions(), execution).Train();

        float[] scores = IwaeAnomalyTransformer.Scores(model, x, o.EvaluationK, IwaeAnomalyTransformer.DefaultScoringSeed, execution);
        float threshold = Quantile(scores, o.ThresholdQuantile);
        return new IwaeAnomalyTransformer(model, o.FeatureColumnName, threshold, o.EvaluationK, IwaeAnomalyTransformer.DefaultScoringSeed, o.Threads);
    }

    /// <summary>
    /// The smallest score s with at least a fraction <paramref name="q"/> of <paramref name="scores"/> at or below it: with
    /// q = 0.95, at most 5% of the training rows score above the threshold.
    /// </summary>
    internal static float Quantile(float[] scores, double q)
    {
        var sorted = (float[])scores.Clone();
        Array.Sort(sorted);
        int index = Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index];
    }

    /// <summary>
    /// The input's columns and <c>Score</c> (Single) and <c>PredictedLabel</c> (Boolean), as ML.NET's anomaly detectors
    /// give them; throws <see cref="ArgumentException"/> when the feature column is missing or not a float vector of known size.
    /// </summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        string name = _options.FeatureColumnName;
        if (!inputSchema.Any(c => c.Name == name))
            throw new ArgumentException($"the data has no column '{name}' (its columns: {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}); name the feature column in FeatureColumnName");
        // SchemaShape.Column has no public constructor: ML.NET's own anomaly trainer (randomized PCA) describes the same two
        // columns after the same check of the input, a float vector of known size.
        return new MLContext(seed: 0).AnomalyDetection.Trainers.RandomizedPca(name, rank: 1).GetOutputSchema(inputSchema);
    }
}
