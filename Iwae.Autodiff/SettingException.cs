namespace Iwae.Autodiff;

/// <summary>
/// A setting outside its range, or at odds with another: the message is "FIELD PROBLEM", with the field named as configs
/// and files spell it ("k", "batch_size", "threads"). A front end that names its settings otherwise (the command line's
/// --batch) says <see cref="Problem"/> after its own name for <see cref="Field"/>.
/// </summary>
/// <param name="field">The setting, as configs and files spell it; also <see cref="ArgumentException.ParamName"/>.</param>
/// <param name="problem">What is wrong, to follow the field's name: "must be from 1 to 100000, got 0".</param>
public sealed class SettingException(string field, string problem) : ArgumentException(null, field)
{
    /// <summary>The setting at fault, as configs and files spell it.</summary>
    public string Field { get; } = field;

    /// <summary>What is wrong with it, worded to follow any name of the setting.</summary>
    public string Problem { get; } = problem;

    /// <inheritdoc/>
    public override string Message => $"{Field} {Problem}";

    /// <summary>The same problem of the setting called <paramref name="field"/> where it is nested ("options.eval_k").</summary>
    public SettingException Renamed(string field) => new(field, Problem);
}
