using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// A model as a PyTorch state_dict in one safetensors file, and back. Our <see cref="Dense{T}"/> layers compute
/// y = x W + b with W [in,out] and b [1,out]; torch's nn.Linear computes y = x weight^T + bias with weight [out,in] and
/// bias [out]. So each parameter "&lt;layer&gt;.W" is written transposed as "&lt;layer&gt;.weight" and each
/// "&lt;layer&gt;.b" as the 1-D "&lt;layer&gt;.bias", all F32 (e.g. encoder.hidden.0.W [784,200] becomes
/// encoder.hidden.0.weight [200,784]). The model's other tensors, each one row [1,n], keep their names and are written
/// 1-D [n]: a learned decoder sigma's "decoder.log_sigma" (log sigma = log f + softplus(r - log f), f the config's
/// sigma_floor) and a standardising model's buffers "data.mean" and "data.std". The metadata holds "format" (<see cref="Format"/>) and
/// <see cref="ConfigKey"/>, the <see cref="ModelConfig"/> as JSON. No optimiser or RNG state is written.
/// Values are copied, never converted, so an export and import give back the same bits.
/// </summary>
public static class TorchExport
{
    /// <summary>The metadata "format" of an exported file.</summary>
    public const string Format = "iwae.net/torch-1";

    /// <summary>The metadata key of the model config (<see cref="ModelConfig.ToJson"/>).</summary>
    public const string ConfigKey = "iwae.config";

    /// <summary>
    /// The state_dict name of one of our tensors: "encoder.mu.W" -> "encoder.mu.weight", "encoder.mu.b" -> "encoder.mu.bias";
    /// "decoder.log_sigma", "data.mean" and "data.std" as they are.
    /// </summary>
    /// <exception cref="ArgumentException">The name ends in neither ".W" nor ".b" and is none of the three.</exception>
    public static string TorchName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.EndsWith(".W", StringComparison.Ordinal)) return name[..^2] + ".weight";
        if (name.EndsWith(".b", StringComparison.Ordinal)) return name[..^2] + ".bias";
        if (name is GaussianDecoder<float>.LogSigmaName or Iwae<float>.DataMeanName or Iwae<float>.DataStdName) return name;
        throw new ArgumentException($"parameter '{name}' is not a layer's .W or .b, so it has no nn.Linear name");
    }

    /// <summary>The state_dict shape of <paramref name="p"/>: [out, in] for a weight W [in,out], [n] for a bias or other row [1,n].</summary>
    public static int[] TorchShape(Parameter<float> p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return IsWeight(p) ? [p.Cols, p.Rows] : [p.Cols];
    }

    /// <summary>Writes <paramref name="model"/>'s parameters, buffers and config to <paramref name="path"/> atomically, in the layout above.</summary>
    /// <exception cref="IOException">Writing failed (nothing is left behind; an existing file is unchanged).</exception>
    public static void Export(Iwae<float> model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var entries = model.State.Select(p =>
        {
            if (!IsWeight(p)) return SafeTensorEntry.FromF32(TorchName(p.Name), TorchShape(p), p.Value.Span);
            var weight = new float[p.Value.Length];
            Transpose(p.Value.Span, p.Rows, p.Cols, weight);
            return SafeTensorEntry.FromF32(TorchName(p.Name), TorchShape(p), weight);
        }).ToArray();
        var metadata = new Dictionary<string, string> { ["format"] = Format, [ConfigKey] = model.Config.ToJson() };
        SafeTensors.Write(path, metadata, entries);
    }

    /// <summary>
    /// Reads a state_dict written by <see cref="Export"/>, or by PyTorch for a module of the same names and shapes, into a
    /// new model. The config comes from the metadata (<see cref="ConfigKey"/>); <paramref name="config"/> serves a file
    /// without one, and must equal the file's when both exist. Every parameter of that config must be present, F32, with
    /// its state_dict shape and finite, and no other tensor may be (as torch's load_state_dict(strict=True)).
    /// </summary>
    /// <exception cref="CheckpointFormatException">A missing, malformed or mismatched file, tensor or config, or a NaN or
    /// infinite value; the one-line message names the file and the tensor.</exception>
    public static Iwae<float> Import(string path, ModelConfig? config = null)
    {
        var file = SafeTensors.Read(path);
        CheckpointFormatException Bad(string problem) => new(path, problem);

        ModelConfig resolved;
        if (file.Metadata.TryGetValue(ConfigKey, out var json))
        {
            try { resolved = ModelConfig.FromJson(json); }
            catch (ArgumentException e) { throw Bad($"metadata '{ConfigKey}': {e.Message}"); }
            if (config is not null && config.ToJson() != resolved.ToJson())
                throw Bad($"holds a {resolved.Describe()} model (metadata '{ConfigKey}'), not the given {config.Describe()}");
        }
        else if (config is null)
        {
            throw Bad($"no model config (metadata '{ConfigKey}') and none was given: give the architecture (iwae import --hidden, --latent, --layers, --k)");
        }
        else
        {
            try { resolved = config.Validate(); }
            catch (ArgumentException e) when (e is not SettingException) { throw Bad($"the given model config is invalid: {e.Message}"); }
        }

        var model = Iwae<float>.Create(resolved, new Rng(0));
        var expected = model.State.ToDictionary(p => TorchName(p.Name), StringComparer.Ordinal);
        foreach (var e in file.Entries)
            if (!expected.ContainsKey(e.Name)) throw Bad($"unexpected tensor '{e.Name}': a {resolved.Describe()} model has no such parameter");
        foreach (var (name, p) in expected)
        {
            if (!file.TryGet(name, out var e)) throw Bad($"missing tensor '{name}' (parameter {p.Name} of a {resolved.Describe()} model)");
            if (e.DType != SafeTensorDType.F32) throw Bad($"tensor '{name}' is {e.DType}, expected F32");
            int[] shape = TorchShape(p);
            if (!e.Shape.SequenceEqual(shape)) throw Bad($"tensor '{name}' has shape {e.ShapeString()}, expected {SafeTensorEntry.ShapeString(shape)}");
            var values = e.ToF32();
            Checkpoint.RequireFinite(path, name, e.Shape, values);
            if (IsWeight(p)) Transpose(values, p.Cols, p.Rows, p.Value.Span);
            else values.CopyTo(p.Value.Span);
        }
        try { model.CheckStandardization(); }
        catch (ArgumentException e) { throw Bad(e.Message); }
        return model;
    }

    private static bool IsWeight(Parameter<float> p) => TorchName(p.Name).EndsWith(".weight", StringComparison.Ordinal);

    // src [rows, cols] row-major -> dst [cols, rows] row-major.
    private static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                dst[c * rows + r] = src[r * cols + c];
    }
}
