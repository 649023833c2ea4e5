using System.Globalization;
using System.Text.Json;
using Iwae.Core;

namespace Iwae.Cli.Report;

/// <summary>A run folder's results.json, read back: each model's figures and the settings they were run with.</summary>
public sealed class RunResults
{
    /// <summary>The models in file order (VAE, then IWAE, for `iwae compare`).</summary>
    public required IReadOnlyList<ModelResult> Models { get; init; }

    /// <summary>The model config (architecture, k, latent, observation).</summary>
    public required ModelConfig Config { get; init; }

    /// <summary>k of the test log-likelihood estimate.</summary>
    public required int EvalK { get; init; }

    /// <summary>The data folder as recorded ("data/mnist-subset" for the embedded subset).</summary>
    public string? Data { get; init; }

    /// <summary>Every other setting, flattened to (section, name, value) in file order, for the report.</summary>
    public required IReadOnlyList<(string Section, string Name, string Value)> Settings { get; init; }

    /// <summary>Reads <paramref name="path"/>; throws <see cref="InvalidDataException"/> (naming the file) when it is not a results.json.</summary>
    public static RunResults Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found (not a run folder of `iwae compare`?)");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var models = root.GetProperty("models").EnumerateArray()
                .Select(m => m.Deserialize<ModelResult>(Runs.JsonOptions) ?? throw new InvalidDataException("a model entry is null")).ToArray();
            if (models.Length == 0) throw new InvalidDataException("no models");
            var settings = new List<(string, string, string)>();
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name == "models") continue;
                if (p.Value.ValueKind == JsonValueKind.Object)
                    foreach (var q in p.Value.EnumerateObject())
                    {
                        // config.model names whichever model the config was copied from; the report shows both.
                        if (p.Name == "config" && q.Name == "model") continue;
                        settings.Add((p.Name, q.Name, Text(q.Value)));
                    }
                else settings.Add(("run", p.Name, Text(p.Value)));
            }
            return new RunResults
            {
                Models = models,
                Config = ModelConfig.FromJson(root.GetProperty("config").GetRawText()),
                EvalK = root.TryGetProperty("eval_k", out var k) ? k.GetInt32() : 5000,
                Data = root.TryGetProperty("data", out var d) ? d.GetString() : null,
                Settings = settings,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: not a valid results.json ({e.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>The model named <paramref name="name"/> ("vae", "iwae"), if present.</summary>
    public ModelResult? Model(string name) => Models.FirstOrDefault(m => string.Equals(m.Model, name, StringComparison.OrdinalIgnoreCase));

    private static string Text(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString() ?? "",
        JsonValueKind.Array => string.Join(", ", e.EnumerateArray().Select(Text)),
        JsonValueKind.Number when e.TryGetDouble(out var v) => v.ToString("G6", CultureInfo.InvariantCulture),
        JsonValueKind.Null => "-",
        _ => e.GetRawText(),
    };
}
