using Iwae.Cli;

return IwaeCommand.Run(args, Console.Out, Console.Error);
