using Iwae.Core.Models;
using Microsoft.ML;

namespace Iwae.ML;

/// <summary><c>mlContext.AnomalyDetection.Trainers.Iwae(...)</c>: the IWAE anomaly detector beside ML.NET's randomized PCA.</summary>
public static class IwaeCatalog
{
    /// <summary>An <see cref="IwaeAnomalyEstimator"/> with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">A setting out of range, named by its property.</exception>
    public static IwaeAnomalyEstimator Iwae(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog, IwaeAnomalyOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new IwaeAnomalyEstimator(options);
    }

    /// <summary>An <see cref="IwaeAnomalyEstimator"/> with the common settings; the rest as <see cref="IwaeAnomalyOptions"/> has them.</summary>
    /// <param name="catalog">The anomaly detection trainers.</param>
    /// <param name="featureColumnName">A vector of D floats per row.</param>
    /// <param name="latent">Latent dimension Z.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="k">Importance samples per example while training.</param>
    /// <param name="observation">Bernoulli (values in [0, 1]) or Gaussian (any real values).</param>
    /// <param name="thresholdQuantile">PredictedLabel's threshold: this quantile of the training scores, in (0, 1).</param>
    /// <param name="seed">The same seed gives the same model.</param>
    public static IwaeAnomalyEstimator Iwae(this AnomalyDetectionCatalog.AnomalyDetectionTrainers catalog, string featureColumnName = "Features",
        int latent = 10, int epochs = 50, int k = 5, Observation observation = Observation.Bernoulli, double thresholdQuantile = 0.95, ulong seed = 1)
        => catalog.Iwae(new IwaeAnomalyOptions
        {
            FeatureColumnName = featureColumnName, Latent = latent, Epochs = epochs, K = k, Observation = observation,
            ThresholdQuantile = thresholdQuantile, Seed = seed,
        });
}
