using System.Text.Json.Serialization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Data;

namespace Iwae.Core.Models;

/// <summary>The observation model p(x|z).</summary>
public enum Observation
{
    /// <summary>784 Bernoulli logits; data binarised.</summary>
    Bernoulli,
    /// <summary>
    /// Gaussian N(x; m(z), sigma^2 I), sigma fixed (<see cref="ModelConfig.DecoderSigma"/>) or learned
    /// (<see cref="ModelConfig.DecoderVariance"/>); data as real values, optionally standardised (<see cref="ModelConfig.Standardize"/>).
    /// </summary>
    Gaussian,
}

/// <summary>How the Gaussian decoder's standard deviation is set (sigma-VAE, Rybkin, Daniilidis and Levine 2021).</summary>
public enum DecoderVariance
{
    /// <summary>A fixed sigma, <see cref="ModelConfig.DecoderSigma"/> (0.1 by default), the same for every dimension.</summary>
    Fixed,
    /// <summary>One learned sigma shared by every dimension: the parameter "decoder.log_sigma" [1,1].</summary>
    Shared,
    /// <summary>A learned sigma per dimension: the parameter "decoder.log_sigma" [1,D].</summary>
    PerDimension,
}

/// <summary>Which weights the loss uses: the IWAE's normalised importance weights, or the VAE's uniform 1/k.</summary>
public enum ModelKind
{
    /// <summary>Importance weighted autoencoder (Burda et al. 2016).</summary>
    Iwae,
    /// <summary>Variational autoencoder with the k-sample ELBO (Kingma and Welling 2014).</summary>
    Vae,
}

/// <summary>Everything needed to rebuild a model; stored in checkpoints as JSON.</summary>
public sealed record ModelConfig
{
    /// <summary>IWAE or VAE.</summary>
    public ModelKind Model { get; init; } = ModelKind.Iwae;

    /// <summary>Importance samples per input during training (k).</summary>
    public int K { get; init; } = 5;

    /// <summary>Pixels per image (784 for MNIST).</summary>
    public int InputSize { get; init; } = 784;

    /// <summary>
    /// Stochastic layers: 1 (x -> z) or 2 (x -> h1 -> h2, Burda et al. 2016, section 5). With 2, <see cref="Hidden"/> and
    /// <see cref="Latent"/> describe the first layer (784-200-200-100 in the paper) and <see cref="Hidden2"/> and
    /// <see cref="Latent2"/> the second (100-100-100-50); see <see cref="WithLayers"/>.
    /// </summary>
    public int Layers { get; init; } = 1;

    /// <summary>
    /// Encoder hidden widths; the decoder mirrors them (200,200 gives 784-200-200-Z and Z-200-200-784). Empty: no hidden
    /// layer, so the encoder's heads and the decoder are linear (the linear Gaussian model of <see cref="LinearGaussianToy"/>).
    /// </summary>
    public int[] Hidden { get; init; } = [200, 200];

    /// <summary>Latent dimension Z (with two stochastic layers: the dimension of h1, the layer next to x).</summary>
    public int Latent { get; init; } = 50;

    /// <summary>Hidden widths of q(h2|h1); p(h1|h2) mirrors them (empty: linear). Used only when <see cref="Layers"/> is 2.</summary>
    public int[] Hidden2 { get; init; } = [100, 100];

    /// <summary>Dimension of the top layer h2. Used only when <see cref="Layers"/> is 2.</summary>
    public int Latent2 { get; init; } = 50;

    /// <summary>Observation model.</summary>
    public Observation Observation { get; init; } = Observation.Bernoulli;

    /// <summary>Fixed standard deviation of the Gaussian decoder (with <see cref="DecoderVariance.Fixed"/>).</summary>
    public double DecoderSigma { get; init; } = 0.1;

    /// <summary>
    /// Fixed or learned sigma of the Gaussian decoder; JSON leaves out the default (fixed), so configs written before
    /// the field existed read the same and are written the same.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public DecoderVariance DecoderVariance { get; init; }

    /// <summary>The default <see cref="SigmaFloor"/>: 1e-3, in standardised units a thousandth of a dimension's spread.</summary>
    public const double DefaultSigmaFloor = 1e-3;

    /// <summary>
    /// The smallest standard deviation a learned decoder variance reaches: log sigma = log f + softplus(r - log f) for the
    /// stored parameter r ("decoder.log_sigma"), a soft floor that keeps the gradient, as sigma-VAE's softclip does.
    /// Without it a dimension the decoder fits exactly would drive sigma to 0 and the likelihood to infinity. In the
    /// data's units, or in standardised units with <see cref="Standardize"/>.
    /// </summary>
    [JsonIgnore]
    public double SigmaFloor { get; init; } = DefaultSigmaFloor;

    // JSON holds sigma_floor only when it is not the default, so configs without it read as before.
    [JsonInclude, JsonPropertyName("sigma_floor"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private double? SigmaFloorJson
    {
        get => SigmaFloor.Equals(DefaultSigmaFloor) ? null : SigmaFloor;
        init => SigmaFloor = value ?? DefaultSigmaFloor;
    }

    /// <summary>
    /// Standardise each dimension with the training split's mean and standard deviation (a zero deviation counts as 1)
    /// before the model reads it; the model keeps them ("data.mean", "data.std") and reports log p(x) in the data's own
    /// units, log p(x) = log p(x_std) - sum_d log std_d. Gaussian observations only. JSON leaves out the default (off).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Standardize { get; init; }

    /// <summary>The variance <paramref name="name"/> says: fixed, shared or per-dimension (any case; per_dimension as configs spell it); null for anything else.</summary>
    public static DecoderVariance? VarianceNamed(string? name) => name?.ToLowerInvariant() switch
    {
        "fixed" => DecoderVariance.Fixed,
        "shared" => DecoderVariance.Shared,
        "per-dimension" or "per_dimension" => DecoderVariance.PerDimension,
        _ => null,
    };

    /// <summary>
    /// The one check of a model's settings: throws <see cref="SettingException"/> naming the first out-of-range field
    /// (every size within its <see cref="Limits"/>), or <see cref="ArgumentException"/> when a weight matrix would hold
    /// more than <see cref="Limits.MaxTensorValues"/>. Returns this config.
    /// </summary>
    public ModelConfig Validate()
    {
        Limits.K.Check(K);
        Limits.InputSize.Check(InputSize);
        CheckWidths("hidden", Hidden);
        Limits.Latent.Check(Latent);
        CheckLayers(Layers);
        CheckWidths("hidden2", Hidden2);
        Limits.Latent.Check(Latent2, "latent2");
        if (!(DecoderSigma > 0) || !double.IsFinite(DecoderSigma)) throw new SettingException("decoder_sigma", $"must be a positive number, got {DecoderSigma}");
        if (!Enum.IsDefined(Model)) throw new SettingException("model", $"must be iwae or vae, got {Model}");
        if (!Enum.IsDefined(Observation)) throw new SettingException("observation", $"must be bernoulli or gaussian, got {Observation}");
        if (!Enum.IsDefined(DecoderVariance)) throw new SettingException("decoder_variance", $"must be fixed, shared or per_dimension, got {DecoderVariance}");
        if (!(SigmaFloor > 0) || !double.IsFinite(SigmaFloor)) throw new SettingException("sigma_floor", $"must be a positive number, got {SigmaFloor}");
        if (Observation == Observation.Bernoulli && DecoderVariance != DecoderVariance.Fixed)
            throw new SettingException("decoder_variance", "applies to the gaussian observation model only");
        if (Observation == Observation.Bernoulli && Standardize)
            throw new SettingException("standardize", "applies to the gaussian observation model only (bernoulli data are probabilities in [0, 1])");
        if (DecoderVariance == DecoderVariance.Fixed && !SigmaFloor.Equals(DefaultSigmaFloor))
            throw new SettingException("sigma_floor", "applies to a learned decoder variance (shared or per_dimension) only");
        foreach (var (rows, cols) in WeightShapes()) Limits.CheckTensor("a weight matrix", rows, cols);
        return this;
    }

    private static int CheckLayers(int layers) => layers is 1 or 2 ? layers : throw new SettingException("layers", $"must be 1 or 2, got {layers}");

    private static void CheckWidths(string field, int[]? widths)
    {
        if (widths is null) throw new SettingException(field, "must list the layer widths (empty for none)");
        if (!Limits.Depth.Allows(widths.Length)) throw new SettingException(field, $"must have {Limits.Depth.Range} layers, got {widths.Length}");
        foreach (int h in widths)
            if (!Limits.Width.Allows(h)) throw new SettingException(field, $"must be widths {Limits.Width.Range} (e.g. 200,200), got {string.Join(",", widths)}");
    }

    /// <summary>The [in, out] shape of every weight matrix, encoders and decoders (the mean and log-sigma heads count once each).</summary>
    private IEnumerable<(long Rows, long Cols)> WeightShapes()
    {
        IEnumerable<(long, long)> Chain(int input, int[] hidden, int output)
        {
            int prev = input;
            foreach (int h in hidden) { yield return (prev, h); yield return (h, prev); prev = h; }
            yield return (prev, output);
            yield return (output, prev);
        }
        var shapes = Chain(InputSize, Hidden, Latent);
        return Layers == 2 ? shapes.Concat(Chain(Latent, Hidden2, Latent2)) : shapes;
    }

    /// <summary>The widest layer a batch passes through: the input, a hidden layer or a latent layer.</summary>
    [JsonIgnore]
    public int WidestLayer => new[] { InputSize, Latent, Layers == 2 ? Latent2 : 0 }.Concat(Hidden).Concat(Layers == 2 ? Hidden2 : []).Max();

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless data of <paramref name="pixelsPerImage"/> values per row can be this
    /// model's input: the one check that trainer, evaluation, sampling and the run calls share.
    /// </summary>
    public void CheckInput(int pixelsPerImage)
    {
        if (pixelsPerImage != InputSize)
            throw new ArgumentException($"the data has {pixelsPerImage} pixels per image, the model expects {InputSize}");
    }

    /// <summary>"iwae 784-200-200-50 k=5 bernoulli", for messages.</summary>
    public string Describe() => $"{Model.ToString().ToLowerInvariant()} {Architecture} k={K} {Observation.ToString().ToLowerInvariant()}"
        + (DecoderVariance == DecoderVariance.Fixed ? "" : $" {VarianceName(DecoderVariance)} sigma") + (Standardize ? " standardized" : "");

    /// <summary>The variance's name in configs and on the command line: fixed, shared, per_dimension.</summary>
    public static string VarianceName(DecoderVariance v) => JsonNamingPolicy.SnakeCaseLower.ConvertName(v.ToString());

    /// <summary>Architecture as text, e.g. "784-200-200-50", or "784-200-200-100|100-100-100-50" with two stochastic layers.</summary>
    public string Architecture => Layers == 1
        ? Widths(InputSize, Hidden, Latent)
        : $"{Widths(InputSize, Hidden, Latent)}|{Widths(Latent, Hidden2, Latent2)}";

    private static string Widths(int input, int[] hidden, int output) => string.Join("-", [input, .. hidden, output]);

    /// <summary>
    /// This config with <paramref name="layers"/> stochastic layers and Burda et al.'s widths for them: 1 layer
    /// 784-200-200-50; 2 layers 784-200-200-100 | 100-100-100-50 (the mirrored decoder follows).
    /// </summary>
    public ModelConfig WithLayers(int layers) => CheckLayers(layers) == 1
        ? this with { Layers = 1, Hidden = [200, 200], Latent = 50 }
        : this with { Layers = 2, Hidden = [200, 200], Latent = 100, Hidden2 = [100, 100], Latent2 = 50 };

    /// <summary>This config with <see cref="InputSize"/> set to the width D of <paramref name="data"/>'s examples.</summary>
    public ModelConfig WithInput(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return this with { InputSize = data.PixelsPerImage };
    }

    /// <summary>JSON form, e.g. {"model":"iwae","k":5,...}.</summary>
    public string ToJson() => IwaeJson.Serialize(this);

    /// <summary>Parses <see cref="ToJson"/>'s output; throws <see cref="ArgumentException"/> on anything else.</summary>
    public static ModelConfig FromJson(string json)
    {
        try
        {
            return (JsonSerializer.Deserialize<ModelConfig>(json, IwaeJson.Options) ?? throw new ArgumentException("model config is null")).Validate();
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"model config is not valid JSON: {e.Message}");
        }
    }
}
