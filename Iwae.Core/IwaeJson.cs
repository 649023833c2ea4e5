using System.Text.Json.Serialization;
using System.Text.Json;

namespace Iwae.Core;

/// <summary>
/// The one JSON convention of every file Iwae.NET writes (results.json, metrics and stages lines, snr.json, samples,
/// the config in checkpoints): snake_case names, enums as snake_case strings, NaN and infinities allowed, compact.
/// </summary>
public static class IwaeJson
{
    /// <summary>The serializer options for reading and writing every Iwae.NET file.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary><paramref name="value"/> as JSON text in the house convention.</summary>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Parses <paramref name="json"/>; throws <see cref="JsonException"/> when it is not a <typeparamref name="T"/>.</summary>
    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException("null");
}

/// <summary>Files written whole or not at all.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="text"/> to a temporary file beside <paramref name="path"/>, then renames it over
    /// <paramref name="path"/>: a reader (or a crash) never sees a half-written file.
    /// </summary>
    public static void WriteAllText(string path, string text)
    {
        string tmp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllText(tmp, text);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
