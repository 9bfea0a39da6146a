// libyaml (Debian libyaml-dev): the YAML parser the config reader composes its tree from.
#include <yaml.h>
