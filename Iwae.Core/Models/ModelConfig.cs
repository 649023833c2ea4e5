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
    /// <summary>Gaussian with fixed standard deviation <see cref="ModelConfig.DecoderSigma"/>; data as grey levels.</summary>
    Gaussian,
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

    /// <summary>Fixed standard deviation of the Gaussian decoder.</summary>
    public double DecoderSigma { get; init; } = 0.1;

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
    public string Describe() => $"{Model.ToString().ToLowerInvariant()} {Architecture} k={K} {Observation.ToString().ToLowerInvariant()}";

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
